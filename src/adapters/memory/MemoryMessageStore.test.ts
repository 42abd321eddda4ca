import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../domain/model.js';
import { MemoryMessageStore } from './MemoryMessageStore.js';

const msg = (id: number, body: string): Message => ({
  channelId: 'g_' + 'a'.repeat(32),
  id,
  senderUserId: 'u_' + 'b'.repeat(32),
  senderDeviceId: 'phone',
  clientMsgId: `00000000-0000-4000-8000-${String(id).padStart(12, '0')}`,
  body,
  sentAtMs: 1_764_000_000_000 + id,
  kind: 'user',
});

test('the arena keeps every message across chunk boundaries, including one larger than a chunk', async () => {
  const s = new MemoryMessageStore();
  const ch = msg(0, '').channelId;
  const sent: Message[] = [];
  // ~3 MiB of messages: several 1 MiB chunks, records straddling none of them.
  for (let id = 1; id <= 12_000; id++) {
    const m = msg(id, `body ${id} ` + 'x'.repeat(id % 500));
    if (id === 6000) m.body = 'y'.repeat(1_500_000);
    sent.push(m);
    await s.append(m);
  }
  assert.equal(await s.maxId(ch), 12_000);
  assert.deepEqual(await s.get(ch, 6000), sent[5999]);
  assert.deepEqual(await s.after(ch, 0, 20_000), sent);
  assert.deepEqual(await s.before(ch, 0, 3), [sent[11_999], sent[11_998], sent[11_997]]);
  assert.deepEqual(await s.findByClientMsgId(sent[41]!.senderUserId, sent[41]!.clientMsgId), sent[41]);
});

test('a delete wipes the old bytes of the body and of its edits from the arena, not just the pointers to them', async () => {
  const s = new MemoryMessageStore();
  const ch = msg(0, '').channelId;
  await s.append(msg(1, 'SECRET-original'));
  const edit: Message = { ...msg(2, 'SECRET-edited'), kind: 'edit', targetId: 1 };
  await s.append(edit);
  await s.applyChange(edit);
  const del: Message = { ...msg(3, ''), clientMsgId: '', kind: 'delete', targetId: 1 };
  await s.append(del);
  await s.applyChange(del);
  const chunks = (s as unknown as { arena: { chunks: Buffer[] } }).arena.chunks;
  assert.equal(
    chunks.some((c) => c.includes('SECRET')),
    false,
  );
  assert.equal((await s.get(ch, 1))!.deleted, true);
});
