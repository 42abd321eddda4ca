import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Message } from '../../../src/domain/model.js';
import { chan, msg, type Factories } from './support.js';

/** The MessageStore contract, for every adapter. */
export function messageStoreSuite(name: string, make: NonNullable<Factories['messages']>) {
  test(`${name} MessageStore: after/before/get/maxId page in id order`, async () => {
    const s = await make();
    const ch = chan();
    for (const id of [1, 2, 3, 5, 4, 6, 7, 8, 9, 10]) await s.append(msg(ch, id));
    assert.deepEqual(
      (await s.after(ch, 0, 3)).map((m) => m.id),
      [1, 2, 3],
    );
    assert.deepEqual(
      (await s.after(ch, 8, 10)).map((m) => m.id),
      [9, 10],
    );
    assert.deepEqual(
      (await s.before(ch, 0, 3)).map((m) => m.id),
      [10, 9, 8],
    );
    assert.deepEqual(
      (await s.before(ch, 4, 10)).map((m) => m.id),
      [3, 2, 1],
    );
    assert.equal((await s.get(ch, 5))!.body, 'm5');
    assert.equal(await s.get(ch, 11), undefined);
    assert.equal(await s.maxId(ch), 10);
    assert.equal(await s.maxId(chan()), 0);
    const five = (await s.get(ch, 5))!;
    assert.equal((await s.findByClientMsgId(five.senderUserId, five.clientMsgId))?.id, 5);
    assert.equal(await s.findByClientMsgId(five.senderUserId, randomUUID()), undefined);
    assert.deepEqual(await s.after(chan(), 0, 10), []);
  });
  test(`${name} MessageStore: appending the same message twice is idempotent; ids are not guarded, a later message under a stored id replaces it whole`, async () => {
    const s = await make();
    const ch = chan();
    const m = msg(ch, 1);
    await s.append(m);
    await s.append({ ...m });
    assert.deepEqual(await s.after(ch, 0, 10), [m], 'one copy');
    assert.deepEqual(await s.findByClientMsgId(m.senderUserId, m.clientMsgId), m);
    // Never done by the send path (the Sequencer does not reissue ids); this pins what a store does if it happens.
    const impostor = { ...msg(ch, 1, 'impostor'), senderUserId: 'u_2', senderDeviceId: 'e', sentAtMs: 5 };
    await s.append(impostor);
    assert.deepEqual(await s.get(ch, 1), impostor, 'the last write wins, every field of it');
    assert.deepEqual(await s.after(ch, 0, 10), [impostor], 'still one message under the id');
    assert.deepEqual(await s.before(ch, 0, 10), [impostor]);
    assert.equal(await s.maxId(ch), 1);
    assert.deepEqual(await s.findByClientMsgId(impostor.senderUserId, impostor.clientMsgId), impostor);
    assert.equal(await s.findByClientMsgId(m.senderUserId, m.clientMsgId), undefined, "a pointer never leads to another sender's message");
  });
  test(`${name} MessageStore: paging crosses partition boundaries and skips an empty id range`, async () => {
    const s = await make({ bucketSize: 10 });
    const ch = chan();
    // 1..19 and 30..35 (ids 20..29 never stored, as after a sequencer re-seed), appended out of order.
    const ids = [...Array.from({ length: 19 }, (_, i) => i + 1), 30, 31, 32, 33, 34, 35];
    for (const id of [...ids].sort((a, b) => ((a * 7) % 11) - ((b * 7) % 11) || a - b)) await s.append(msg(ch, id));
    const idsOf = (ms: Message[]) => ms.map((m) => m.id);
    assert.deepEqual(idsOf(await s.after(ch, 0, 100)), ids);
    assert.deepEqual(idsOf(await s.after(ch, 8, 5)), [9, 10, 11, 12, 13]);
    assert.deepEqual(idsOf(await s.after(ch, 17, 4)), [18, 19, 30, 31]);
    assert.deepEqual(idsOf(await s.after(ch, 25, 2)), [30, 31]);
    assert.deepEqual(idsOf(await s.after(ch, 35, 5)), []);
    assert.deepEqual(idsOf(await s.before(ch, 0, 3)), [35, 34, 33]);
    assert.deepEqual(idsOf(await s.before(ch, 31, 4)), [30, 19, 18, 17]);
    assert.deepEqual(idsOf(await s.before(ch, 11, 3)), [10, 9, 8]);
    assert.deepEqual(idsOf(await s.before(ch, 1, 3)), []);
    assert.deepEqual(idsOf(await s.before(ch, 100, 2)), [35, 34]);
    assert.equal(await s.maxId(ch), 35);
    assert.equal((await s.get(ch, 30))!.body, 'm30');
    assert.equal(await s.get(ch, 25), undefined);
    // Walking the whole history page by page, both ways, sees every id once.
    const forward: number[] = [];
    for (let page = await s.after(ch, 0, 7); page.length; page = await s.after(ch, forward[forward.length - 1]!, 7)) forward.push(...idsOf(page));
    assert.deepEqual(forward, ids);
    const backward: number[] = [];
    for (let page = await s.before(ch, 0, 6); page.length; page = await s.before(ch, backward[backward.length - 1]!, 6)) backward.push(...idsOf(page));
    assert.deepEqual(backward, [...ids].reverse());
    const m = (await s.get(ch, 12))!;
    assert.deepEqual(m, { ...msg(ch, 12), clientMsgId: m.clientMsgId }, 'every field round-trips');
  });
  test(`${name} MessageStore: racing appends of one id store exactly one message`, async () => {
    const s = await make();
    const ch = chan();
    const same = msg(ch, 1);
    const twins = await Promise.allSettled([s.append(same), s.append({ ...same }), s.append({ ...same })]);
    assert.deepEqual(
      twins.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled'],
      'a resend is idempotent even when it races',
    );
    const rivals = [0, 1, 2, 3].map((i) => ({ ...msg(ch, 2, `rival${i}`), senderDeviceId: `d${i}`, sentAtMs: 2000 + i }));
    await Promise.all(rivals.map((r) => s.append(r)));
    const stored = await s.after(ch, 0, 10);
    assert.deepEqual(
      stored.map((m) => m.id),
      [1, 2],
      'one message per id',
    );
    assert.deepEqual(stored[0], same);
    const winner = rivals.find((r) => r.body === stored[1]!.body);
    assert.deepEqual(stored[1], winner, 'one rival, whole: never fields of several');
    const found = await Promise.all(rivals.map((r) => s.findByClientMsgId(r.senderUserId, r.clientMsgId)));
    assert.deepEqual(
      found,
      rivals.map((r) => (r === winner ? winner : undefined)),
      'only the stored rival is found by its client_msg_id',
    );
  });
}
