import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { ClientFrame, ServerFrame } from '../../src/gen/chat/v1/chat.js';
import { Message, MessageKind } from '../../src/gen/chat/v1/common.js';
import { makeBody, parseBodyBuf, parseBodyStr, parsed } from './body.js';
import { msg, msgIdSeq, MsgIds, readAckId, readAckMessageId, readRelayFrame, readServerFrame, relayFrame, relayFrameSize, SendFrameEncoder } from './pb.js';

// The load generator's hand-written wire code must agree with the generated codec.

test('SendFrameEncoder writes what ts-proto decodes as a send frame', () => {
  const channelId = 'd_u_' + 'a'.repeat(32) + '_u_' + 'b'.repeat(32);
  const enc = new SendFrameEncoder(channelId, 128);
  const uuid = randomUUID();
  const body = makeBody(128, 7, 3, 42, 1_700_000_000_123_456);
  const f = ClientFrame.decode(enc.encode(uuid, body)).frame;
  assert.equal(f?.$case, 'send');
  assert.deepEqual(f.$case === 'send' && f.send, { channelId, clientMsgId: uuid, body, replyToId: undefined, firstAttempt: true });
});

test('readServerFrame finds id and body of a message frame, and names other frames', () => {
  const body = makeBody(128, 9, 1, 5, 1_700_000_000_000_001);
  const buf = Buffer.from(
    ServerFrame.encode({
      frame: {
        $case: 'message',
        message: Message.create({
          channelId: 'g_' + 'c'.repeat(32),
          id: 300_000,
          senderUserId: 'u_x',
          senderDeviceId: 'd0',
          clientMsgId: randomUUID(),
          body,
          sentAtMs: Date.now(),
          kind: MessageKind.MESSAGE_KIND_USER,
        }),
      },
    }).finish(),
  );
  assert.equal(readServerFrame(buf), 1);
  assert.equal(msg.id, 300_000);
  assert.equal(buf.toString('latin1', msg.bodyStart, msg.bodyEnd), body);
  assert.ok(parseBodyBuf(buf, msg.bodyStart, msg.bodyEnd));
  assert.deepEqual({ ...parsed }, { tag: 9, sender: 1, seq: 5, micros: 1_700_000_000_000_001 });
  const caught = Buffer.from(ServerFrame.encode({ frame: { $case: 'caughtUp', caughtUp: { cursors: [] } } }).finish());
  assert.equal(readServerFrame(caught), 7);
});

test('relay frames have the requested size and carry the body', () => {
  const body = makeBody(200, 3, 17, 8, 123);
  const f = relayFrame(true, 300, body);
  assert.equal(f.length, relayFrameSize(300, 200));
  assert.ok(readRelayFrame(f));
  assert.equal(f.toString('latin1', msg.bodyStart, msg.bodyEnd), body);
  assert.ok(parseBodyStr(body));
  assert.equal(parsed.sender, 17);
});

test('client_msg_ids carry the message seq, and a send_ack gives it back', () => {
  const id = new MsgIds(randomUUID()).make(37, 123_456_789);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const buf = Buffer.from(
    ServerFrame.encode({
      frame: { $case: 'sendAck', sendAck: { clientMsgId: id, channelId: 'g_' + 'c'.repeat(32), messageId: 9, sentAtMs: 1, duplicate: false } },
    }).finish(),
  );
  assert.equal(readServerFrame(buf), 2);
  const at = readAckId(buf);
  assert.ok(at >= 0);
  assert.equal(msgIdSeq(buf, at), 123_456_789);
  assert.equal(readAckMessageId(buf, at), 9);
});
