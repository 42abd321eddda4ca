import type { Message } from '../domain/model.js';

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

const MESSAGE_KIND_USER = 1;
const MESSAGE_KIND_SYSTEM = 2;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Size of a length-delimited field (tag + length + bytes); 0 when omitted. */
function strField(len: number): number {
  return len === 0 ? 0 : 1 + varintSize(len) + len;
}

function writeStr(buf: Buffer, pos: number, tag: number, s: string, len: number): number {
  if (len === 0) return pos;
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, len);
  return pos + buf.write(s, pos, len, 'utf8');
}

function writeNum(buf: Buffer, pos: number, tag: number, n: number): number {
  if (n === 0) return pos;
  buf[pos++] = tag;
  return writeVarint(buf, pos, n);
}

const okInt = (n: number) => Number.isSafeInteger(n) && n >= 0;

/** `ServerFrame{message: m}`, or undefined when the generated codec must handle it. */
export function encodeMessageFrame(m: Message): Buffer | undefined {
  if (!okInt(m.id) || !okInt(m.sentAtMs)) return undefined;
  const kind = m.kind === 'system' ? MESSAGE_KIND_SYSTEM : MESSAGE_KIND_USER;
  const lCh = Buffer.byteLength(m.channelId);
  const lSu = Buffer.byteLength(m.senderUserId);
  const lSd = Buffer.byteLength(m.senderDeviceId);
  const lCm = Buffer.byteLength(m.clientMsgId);
  const lBody = Buffer.byteLength(m.body);
  const inner =
    strField(lCh) +
    (m.id ? 1 + varintSize(m.id) : 0) +
    strField(lSu) +
    strField(lSd) +
    strField(lCm) +
    strField(lBody) +
    (m.sentAtMs ? 1 + varintSize(m.sentAtMs) : 0) +
    2;
  const buf = Buffer.allocUnsafe(1 + varintSize(inner) + inner);
  buf[0] = (1 << 3) | 2;
  let pos = writeVarint(buf, 1, inner);
  pos = writeStr(buf, pos, (1 << 3) | 2, m.channelId, lCh);
  pos = writeNum(buf, pos, 2 << 3, m.id);
  pos = writeStr(buf, pos, (3 << 3) | 2, m.senderUserId, lSu);
  pos = writeStr(buf, pos, (4 << 3) | 2, m.senderDeviceId, lSd);
  pos = writeStr(buf, pos, (5 << 3) | 2, m.clientMsgId, lCm);
  pos = writeStr(buf, pos, (6 << 3) | 2, m.body, lBody);
  pos = writeNum(buf, pos, 7 << 3, m.sentAtMs);
  buf[pos++] = 8 << 3;
  buf[pos++] = kind;
  return buf;
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
    strField(lCm) +
    strField(lCh) +
    (a.messageId ? 1 + varintSize(a.messageId) : 0) +
    (a.sentAtMs ? 1 + varintSize(a.sentAtMs) : 0) +
    (a.duplicate ? 2 : 0);
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
