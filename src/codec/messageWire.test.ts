import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { Message as PMessage, MessageKind } from '../gen/chat/v1/common.js';
import type { Message } from '../domain/model.js';
import { decodeMessage, encodeMessage } from './messageWire.js';

const pick = <T>(xs: T[]) => xs[randomInt(xs.length)]!;
const strings = ['', 'a', 'g_0123456789abcdef0123456789abcdef', 'héllo wörld', '日本語', '🙂 emoji', 'x'.repeat(200)];
const numbers = [0, 1, 127, 128, 16_384, 2 ** 32 + 5, 1_764_000_000_000, Number.MAX_SAFE_INTEGER];

const random = (): Message => ({
  channelId: pick(strings),
  id: pick(numbers),
  senderUserId: pick(strings),
  senderDeviceId: pick(strings),
  clientMsgId: pick(strings),
  body: pick(strings),
  sentAtMs: pick(numbers),
  kind: pick(['user', 'system'] as const),
});

test('a message written by hand is the generated chat.v1.Message, and reads back unchanged', () => {
  for (let i = 0; i < 2000; i++) {
    const m = random();
    const bytes = encodeMessage(m)!;
    const generated = Buffer.from(PMessage.encode({ ...m, kind: m.kind === 'system' ? MessageKind.MESSAGE_KIND_SYSTEM : MessageKind.MESSAGE_KIND_USER }).finish());
    assert.deepEqual(bytes, generated);
    assert.deepEqual(decodeMessage(bytes), m);
  }
});

test('decoding skips fields it does not know (a newer writer)', () => {
  const m = random();
  const extra = Buffer.from([(9 << 3) | 0, 5, (10 << 3) | 2, 2, 0x61, 0x62, (11 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8, (12 << 3) | 5, 1, 2, 3, 4]);
  assert.deepEqual(decodeMessage(Buffer.concat([encodeMessage(m)!, extra])), m);
});
