import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { SafetyStore } from '../../src/ports/SafetyStore.js';

const uid = () => `u_${randomUUID().replaceAll('-', '')}`;
const gid = () => `g_${randomUUID().replaceAll('-', '')}`;

/** The SafetyStore contract (blocks, invitations, mutes), run against every adapter by its factory. */
export function safetySuite(name: string, make: () => Promise<SafetyStore>) {
  test(`${name} SafetyStore: blocks are seen from both sides, idempotent, and undone by unblock`, async () => {
    const s = await make();
    const [a, b, c] = [uid(), uid(), uid()];
    await s.block(a, b, 10);
    await s.block(a, b, 20); // twice: still one block, with the later time
    await s.block(c, b, 30);
    assert.deepEqual((await s.blocks(a)).blocked, [{ userId: b, atMs: 20 }]);
    assert.deepEqual((await s.blocks(b)).blockers.sort(), [a, c].sort());
    assert.deepEqual((await s.blocks(b)).blocked, []);
    assert.equal(await s.unblock(a, b), true);
    assert.equal(await s.unblock(a, b), false);
    assert.deepEqual((await s.blocks(a)).blocked, []);
    assert.deepEqual((await s.blocks(b)).blockers, [c]);
  });

  test(`${name} SafetyStore: invitations are listed oldest first, taken once, and capped by dropping the oldest`, async () => {
    const s = await make();
    const [invitee, inviter] = [uid(), uid()];
    const chans = [gid(), gid(), gid(), gid()];
    for (let i = 0; i < 3; i++)
      assert.deepEqual(await s.invite({ channelId: chans[i]!, inviteeUserId: invitee, inviterUserId: inviter, createdAtMs: 100 + i }, 3), []);
    const dropped = await s.invite({ channelId: chans[3]!, inviteeUserId: invitee, inviterUserId: inviter, createdAtMs: 200 }, 3);
    assert.deepEqual(
      dropped.map((d) => d.channelId),
      [chans[0]],
    );
    assert.deepEqual(
      (await s.invitations(invitee)).map((i) => [i.channelId, i.inviterUserId, i.createdAtMs]),
      [
        [chans[1], inviter, 101],
        [chans[2], inviter, 102],
        [chans[3], inviter, 200],
      ],
    );
    assert.equal((await s.takeInvitation(invitee, chans[2]!))?.createdAtMs, 102);
    assert.equal(await s.takeInvitation(invitee, chans[2]!), undefined, 'taken once');
    assert.equal((await s.invitations(invitee)).length, 2);
    assert.deepEqual(await s.invitations(uid()), []);
  });

  test(`${name} SafetyStore: mutes hold until their time; 0 unmutes`, async () => {
    const s = await make();
    const [u, c1, c2] = [uid(), gid(), gid()];
    await s.mute(u, c1, 1000);
    await s.mute(u, c2, 5000);
    assert.deepEqual([...(await s.mutes(u, 2000))], [[c2, 5000]]);
    await s.mute(u, c2, 0);
    assert.deepEqual([...(await s.mutes(u, 0))], [[c1, 1000]]);
  });
}
