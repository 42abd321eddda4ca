import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chan, user, type Factories } from './support.js';

/** The CursorStore contract, for every adapter. */
export function cursorStoreSuite(name: string, make: NonNullable<Factories['cursors']>) {
  test(`${name} CursorStore: delivered cursors and read pointers only move forward`, async () => {
    const s = await make();
    const u = user();
    const ch = chan();
    await s.ackDelivered(u, 'd1', [{ channelId: ch, lastMessageId: 5 }]);
    await s.ackDelivered(u, 'd1', [{ channelId: ch, lastMessageId: 3 }]);
    await s.ackDelivered(u, 'd2', [{ channelId: ch, lastMessageId: 1 }]);
    assert.equal((await s.delivered(u, 'd1')).get(ch), 5);
    assert.equal((await s.delivered(u, 'd2')).get(ch), 1);
    assert.equal(await s.markRead(u, ch, 9), 9);
    assert.equal(await s.markRead(u, ch, 4), 9);
    assert.deepEqual(
      [...(await s.readPointers(u, [ch, 'g_none']))],
      [
        [ch, 9],
        ['g_none', 0],
      ],
    );
  });
  test(`${name} CursorStore: concurrent out-of-order acknowledgements keep the maximum`, async () => {
    const s = await make();
    const u = user();
    const [a, b] = [chan(), chan()];
    const values = Array.from({ length: 30 }, (_, i) => ((i * 17) % 30) + 1);
    await Promise.all(
      values.map((v) =>
        s.ackDelivered(u, 'd', [
          { channelId: a, lastMessageId: v },
          { channelId: b, lastMessageId: 31 - v },
        ]),
      ),
    );
    assert.deepEqual(
      new Map([...(await s.delivered(u, 'd'))].sort()),
      new Map(
        [
          [a, 30],
          [b, 30],
        ].sort() as [string, number][],
      ),
    );
    assert.deepEqual(await s.delivered(u, 'other-device'), new Map());
    const reads = await Promise.all(values.map((v) => s.markRead(u, a, v)));
    for (const [i, r] of reads.entries()) assert.ok(r >= values[i]!, 'markRead never reports less than it was given');
    assert.equal((await s.readPointers(u, [a])).get(a), 30);
    assert.equal(await s.markRead(u, a, 1), 30);
    assert.deepEqual(await s.readPointers(u, []), new Map());
  });
}
