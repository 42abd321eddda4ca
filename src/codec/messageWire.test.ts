import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Message as PMessage, MessageKind } from '../gen/chat/v1/common.js';
import { decodeMessage, encodeMessage } from './messageWire.js';
import { randomMessage as random } from './sampleMessages.js';

test('a message written by hand is the generated chat.v1.Message, and reads back unchanged', () => {
  for (let i = 0; i < 2000; i++) {
    const m = random();
    const bytes = encodeMessage(m)!;
    const generated = Buffer.from(
      PMessage.encode({ ...PMessage.create(), ...m, kind: m.kind === 'system' ? MessageKind.MESSAGE_KIND_SYSTEM : MessageKind.MESSAGE_KIND_USER }).finish(),
    );
    assert.deepEqual(bytes, generated);
    assert.deepEqual(decodeMessage(bytes), m);
  }
});

test('decoding skips fields it does not know (a newer writer)', () => {
  const m = random();
  const extra = Buffer.from([(9 << 3) | 0, 5, (10 << 3) | 2, 2, 0x61, 0x62, (11 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8, (12 << 3) | 5, 1, 2, 3, 4]);
  assert.deepEqual(decodeMessage(Buffer.concat([encodeMessage(m)!, extra])), m);
});
