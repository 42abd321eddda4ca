import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Message, Reaction } from '../../src/domain/model.js';
import type { Factories } from './suites.js';

/** The MessageStore and CursorStore guarantees of message lifecycle (edits, deletes, reactions, receipts), for every adapter. */

const chan = () => 'g_' + randomUUID().replaceAll('-', '');
const user = () => 'u_' + randomUUID().replaceAll('-', '');

const base = (channelId: string, id: number, senderUserId: string, body: string): Message => ({
  channelId,
  id,
  senderUserId,
  senderDeviceId: 'd',
  clientMsgId: randomUUID(),
  body,
  sentAtMs: 1000 + id,
  kind: 'user',
});

const edit = (ch: string, id: number, by: string, target: number, body: string): Message => ({ ...base(ch, id, by, body), kind: 'edit', targetId: target });
const react = (ch: string, id: number, by: string, target: number, emoji: string, removed = false): Message => {
  const m: Message = { ...base(ch, id, by, ''), clientMsgId: '', kind: 'reaction', targetId: target, emoji };
  if (removed) m.reactionRemoved = true;
  return m;
};
const del = (ch: string, id: number, by: string, target: number): Message => ({ ...base(ch, id, by, ''), clientMsgId: '', kind: 'delete', targetId: target });

const sorted = (rs: Reaction[] | undefined) =>
  (rs ?? []).map((r) => ({ emoji: r.emoji, userIds: [...r.userIds].sort() })).sort((a, b) => (a.emoji < b.emoji ? -1 : 1));

export function lifecycleSuites(f: Factories) {
  if (f.messages) {
    const make = f.messages;
    test(`${f.name} MessageStore: entries change their target's current state (edit, reactions, reply), idempotently; entries are counted apart`, async () => {
      const s = await make({ bucketSize: 4 });
      const [ch, a, b, c] = [chan(), user(), user(), user()];
      await s.append(base(ch, 1, a, 'v1'));
      await s.append({ ...base(ch, 2, b, 'answer'), replyToId: 1 });
      const entries = [edit(ch, 3, a, 1, 'v2'), react(ch, 4, b, 1, '👍'), react(ch, 5, c, 1, '❤️'), react(ch, 6, c, 1, '👍'), react(ch, 7, b, 1, '👍', true)];
      for (const e of entries) {
        await s.append(e);
        await s.applyChange(e);
      }
      await s.applyChange(entries[0]!); // again: counted once
      const one = (await s.get(ch, 1))!;
      assert.equal(one.body, 'v2');
      assert.equal(one.editCount, 1);
      assert.equal(one.editedAtMs, entries[0]!.sentAtMs);
      assert.equal(one.lastChangeId, 7);
      assert.equal(one.deleted, undefined);
      assert.deepEqual(
        sorted(one.reactions),
        sorted([
          { emoji: '👍', userIds: [c] },
          { emoji: '❤️', userIds: [c] },
        ]),
      );
      assert.equal((await s.get(ch, 2))!.replyToId, 1);
      const log = await s.after(ch, 0, 10);
      assert.deepEqual(
        log.map((m) => [m.id, m.kind, m.targetId ?? 0, m.emoji ?? '', !!m.reactionRemoved]),
        [
          [1, 'user', 0, '', false],
          [2, 'user', 0, '', false],
          [3, 'edit', 1, '', false],
          [4, 'reaction', 1, '👍', false],
          [5, 'reaction', 1, '❤️', false],
          [6, 'reaction', 1, '👍', false],
          [7, 'reaction', 1, '👍', true],
        ],
      );
      assert.equal((await s.before(ch, 0, 10)).find((m) => m.id === 1)?.body, 'v2', 'a history page shows the current state');
      assert.equal(await s.countChanges(ch, 0, 7), 5);
      assert.equal(await s.countChanges(ch, 2, 4), 2);
      assert.equal(await s.countChanges(ch, 7, 9), 0);
      assert.equal(await s.countChanges(chan(), 0, 100), 0);
    });
    test(`${f.name} MessageStore: a delete erases the body of the message and of its edit entries; the tombstone keeps id, sender, time and reply`, async () => {
      const s = await make();
      const [ch, a] = [chan(), user()];
      await s.append(base(ch, 1, a, 'first'));
      await s.append({ ...base(ch, 2, a, 'secret original'), replyToId: 1 });
      const e = edit(ch, 3, a, 2, 'secret edited');
      await s.append(e);
      await s.applyChange(e);
      const d = del(ch, 4, a, 2);
      await s.append(d);
      await s.applyChange(d);
      const t = (await s.get(ch, 2))!;
      assert.deepEqual([t.id, t.senderUserId, t.sentAtMs, t.body, t.deleted, t.replyToId, t.lastChangeId], [2, a, 1002, '', true, 1, 4]);
      assert.equal((await s.get(ch, 3))!.body, '', 'the edit entry holds no text any more');
      assert.ok(!JSON.stringify(await s.after(ch, 0, 10)).includes('secret'));
      const late = edit(ch, 5, a, 2, 'after delete');
      await s.applyChange(late);
      assert.equal((await s.get(ch, 2))!.body, '', 'an edit applied after the delete changes nothing');
    });
  }
  if (f.cursors) {
    const make = f.cursors;
    test(`${f.name} CursorStore: member pointers hold the highest ack of any device and the read pointer, per channel`, async () => {
      const s = await make();
      const [ch, other, a, b] = [chan(), chan(), user(), user()];
      await s.ackDelivered(a, 'd1', [{ channelId: ch, lastMessageId: 5 }]);
      await s.ackDelivered(a, 'd2', [
        { channelId: ch, lastMessageId: 7 },
        { channelId: other, lastMessageId: 2 },
      ]);
      await s.ackDelivered(a, 'd1', [{ channelId: ch, lastMessageId: 6 }]);
      await s.markRead(a, ch, 3);
      await s.markRead(b, ch, 4);
      await s.markRead(b, ch, 2);
      const p = await s.memberPointers(ch);
      assert.deepEqual(p.get(a), { delivered: 7, read: 3 });
      assert.deepEqual(p.get(b), { delivered: 0, read: 4 });
      assert.equal(p.size, 2);
      assert.deepEqual((await s.memberPointers(other)).get(a), { delivered: 2, read: 0 });
      assert.equal((await s.memberPointers(chan())).size, 0);
    });
  }
}
