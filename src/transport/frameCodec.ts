import type { Message } from '../domain/model.js';
import { encodeMessage, isPlain, okInt, strField, varintSize, writeNum, writeStr, writeVarint } from '../codec/messageWire.js';

/**
 * Hand-written protobuf encoders for the two frames on the send hot path:
 * `ServerFrame{message}` (once per message, shared by every receiving stream)
 * and `ServerFrame{send_ack}` (once per send). They compute the exact size
 * first and write into one buffer, where the generated codec grows a chunk
 * list and copies. Byte-for-byte equal to `ServerFrame.encode` (proto3:
 * default values are omitted, fields in number order); frameCodec.test.ts
 * checks that against the generated codec. Anything unusual (a negative or
 * unsafe integer) returns undefined and the caller uses the generated codec.
 */

/** `ServerFrame{message: m}`, or undefined when the generated codec must handle it. */
export function encodeMessageFrame(m: Message): Buffer | undefined {
  return isPlain(m) ? encodeMessage(m, 1) : undefined;
}

export interface SendAckFields {
  clientMsgId: string;
  channelId: string;
  messageId: number;
  sentAtMs: number;
  duplicate: boolean;
}

/** `ServerFrame{send_ack: a}`, or undefined when the generated codec must handle it. */
export function encodeSendAckFrame(a: SendAckFields): Buffer | undefined {
  if (!okInt(a.messageId) || !okInt(a.sentAtMs)) return undefined;
  const lCm = Buffer.byteLength(a.clientMsgId);
  const lCh = Buffer.byteLength(a.channelId);
  const inner =
    strField(lCm) + strField(lCh) + (a.messageId ? 1 + varintSize(a.messageId) : 0) + (a.sentAtMs ? 1 + varintSize(a.sentAtMs) : 0) + (a.duplicate ? 2 : 0);
  const buf = Buffer.allocUnsafe(1 + varintSize(inner) + inner);
  buf[0] = (2 << 3) | 2;
  let pos = writeVarint(buf, 1, inner);
  pos = writeStr(buf, pos, (1 << 3) | 2, a.clientMsgId, lCm);
  pos = writeStr(buf, pos, (2 << 3) | 2, a.channelId, lCh);
  pos = writeNum(buf, pos, 3 << 3, a.messageId);
  pos = writeNum(buf, pos, 4 << 3, a.sentAtMs);
  if (a.duplicate) {
    buf[pos++] = 5 << 3;
    buf[pos++] = 1;
  }
  return buf;
}
