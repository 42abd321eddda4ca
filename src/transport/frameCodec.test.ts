import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServerFrame } from '../gen/chat/v1/chat.js';
import type { Message } from '../domain/model.js';
import { encodeMessageFrame, encodeSendAckFrame } from './frameCodec.js';
import { toServerFrame } from './mapping.js';
import { pick, randomMessage, sampleNumbers, sampleStrings } from '../codec/sampleMessages.js';

const generated = (f: ServerFrame) => Buffer.from(ServerFrame.encode(f).finish());

test('the hand-written message frame is byte-for-byte the generated ServerFrame{message}', () => {
  for (let i = 0; i < 2000; i++) {
    const m = randomMessage();
    const fast = encodeMessageFrame(m);
    assert.ok(fast, 'a safe message is encoded by the fast path');
    assert.deepEqual(fast, generated(toServerFrame({ type: 'message', message: m })), JSON.stringify({ ...m, body: m.body.slice(0, 20) }));
  }
});

test('the hand-written send_ack frame is byte-for-byte the generated ServerFrame{send_ack}', () => {
  for (let i = 0; i < 2000; i++) {
    const a = {
      clientMsgId: pick(sampleStrings),
      channelId: pick(sampleStrings),
      messageId: pick(sampleNumbers),
      sentAtMs: pick(sampleNumbers),
      duplicate: pick([true, false]),
    };
    const fast = encodeSendAckFrame(a);
    assert.ok(fast);
    assert.deepEqual(fast, generated(toServerFrame({ type: 'sendAck', ...a })));
  }
});

test('integers the fast path cannot write fall back to the generated codec', () => {
  const m: Message = { channelId: 'c', id: -1, senderUserId: 'u', senderDeviceId: 'd', clientMsgId: '', body: 'b', sentAtMs: 1, kind: 'user' };
  assert.equal(encodeMessageFrame(m), undefined);
  assert.equal(encodeMessageFrame({ ...m, id: 1, sentAtMs: 2 ** 60 }), undefined);
  assert.equal(encodeSendAckFrame({ clientMsgId: 'x', channelId: 'c', messageId: 1.5, sentAtMs: 1, duplicate: false }), undefined);
});
