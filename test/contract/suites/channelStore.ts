import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chan, user, type Factories } from './support.js';

/** The ChannelStore contract, for every adapter. */
export function channelStoreSuite(name: string, make: NonNullable<Factories['channels']>) {
  test(`${name} ChannelStore: membership, cap enforced atomically, direct channels created once`, async () => {
    const s = await make();
    const id = chan();
    const [o, m1, m2, m3] = [user(), user(), user(), user()];
    await s.create({ id, kind: 'group', title: 't', createdAtMs: 1, members: [{ userId: o, role: 'owner' }] });
    const results = await Promise.allSettled([
      s.addMembers(
        id,
        [
          { userId: m1, role: 'member' },
          { userId: m2, role: 'member' },
        ],
        3,
      ),
      s.addMembers(
        id,
        [
          { userId: m3, role: 'member' },
          { userId: m2, role: 'member' },
        ],
        3,
      ),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one add fits');
    assert.equal((await s.get(id))!.members.length, 3);
    assert.ok((await s.channelsOf(o)).includes(id));
    assert.equal(await s.removeMember(id, o), true);
    assert.equal(await s.removeMember(id, o), false);
    assert.ok(!(await s.channelsOf(o)).includes(id));
    const d = `d_${user()}_${user()}`;
    const first = await s.createDirect({ id: d, kind: 'direct', title: '', createdAtMs: 1, members: [{ userId: m1, role: 'member' }] });
    const second = await s.createDirect({ id: d, kind: 'direct', title: 'other', createdAtMs: 2, members: [] });
    assert.deepEqual(second, first);
  });
  test(`${name} ChannelStore: many racing adds never pass the cap; index and roles follow membership`, async () => {
    const s = await make();
    const id = chan();
    const owner = user();
    await s.create({ id, kind: 'group', title: 'race', createdAtMs: 5, members: [{ userId: owner, role: 'owner' }] });
    const joiners = Array.from({ length: 8 }, () => user());
    const results = await Promise.allSettled(joiners.map((u) => s.addMembers(id, [{ userId: u, role: 'member' }], 5)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4, 'exactly the 4 free seats are taken');
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { kind: string }).kind, 'failed_precondition');
    const ch = (await s.get(id))!;
    assert.equal(ch.members.length, 5);
    assert.deepEqual(ch.members[0], { userId: owner, role: 'owner' }, 'members keep join order');
    for (const u of joiners) {
      const member = ch.members.some((m) => m.userId === u);
      assert.equal((await s.channelsOf(u)).includes(id), member, 'channelsOf agrees with the member list');
    }
    const seated = ch.members[1]!.userId;
    const again = await s.addMembers(id, [{ userId: seated, role: 'admin' }], 5);
    assert.equal(again.members.length, 5, 're-adding a member is a no-op, even at the cap');
    await s.setRole(id, seated, 'admin');
    assert.equal((await s.get(id))!.members.find((m) => m.userId === seated)!.role, 'admin');
    assert.equal(await s.removeMember(id, seated), true);
    await s.setRole(id, seated, 'owner');
    assert.equal(
      (await s.get(id))!.members.some((m) => m.userId === seated),
      false,
      'setRole does not resurrect a removed member',
    );
    const after = await s.addMembers(id, [{ userId: seated, role: 'member' }], 5);
    assert.deepEqual(after.members[after.members.length - 1], { userId: seated, role: 'member' }, 'a returning member joins at the end');
    assert.deepEqual(after, await s.get(id));
    assert.ok((await s.channelsOf(seated)).includes(id));
    await assert.rejects(
      () => s.addMembers(chan(), [{ userId: owner, role: 'member' }], 5),
      (e: { kind: string }) => e.kind === 'not_found',
    );
    assert.equal(await s.get(chan()), undefined);
    assert.equal(await s.removeMember(chan(), owner), false);
    assert.deepEqual(await s.channelsOf(user()), []);
  });
  test(`${name} ChannelStore: racing createDirect calls agree on one channel`, async () => {
    const s = await make();
    const [a, b] = [user(), user()];
    const d = `d_${a}_${b}`;
    const members = [
      { userId: a, role: 'member' as const },
      { userId: b, role: 'member' as const },
    ];
    const got = await Promise.all([1, 2, 3].map((t) => s.createDirect({ id: d, kind: 'direct', title: '', createdAtMs: t, members })));
    assert.deepEqual(got[1], got[0]);
    assert.deepEqual(got[2], got[0]);
    assert.deepEqual(await s.get(d), got[0]);
    assert.ok((await s.channelsOf(a)).includes(d) && (await s.channelsOf(b)).includes(d));
  });
}
