import type { Message } from '../domain/model.js';

/**
 * The protobuf wire form of `chat.v1.Message` (proto/chat/v1/common.proto),
 * written and read by hand for the two places that handle every message: the
 * transport (a ServerFrame is this message wrapped in field 1) and the
 * in-memory history (which keeps messages as these bytes, off the JS heap's
 * object graph). Byte-for-byte what the generated codec writes: proto3
 * defaults omitted, fields in number order (checked in messageWire.test.ts).
 */

/** chat.v1.MessageKind numbers. */
const KIND_NUMBER: Record<Message['kind'], number> = { user: 1, system: 2, edit: 3, delete: 4, reaction: 5 };
const KIND_NAME: Message['kind'][] = ['user', 'user', 'system', 'edit', 'delete', 'reaction'];

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Size of a length-delimited field (tag + length + bytes); 0 when omitted. */
export function strField(len: number): number {
  return len === 0 ? 0 : 1 + varintSize(len) + len;
}

export function writeStr(buf: Buffer, pos: number, tag: number, s: string, len: number): number {
  if (len === 0) return pos;
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, len);
  return pos + buf.write(s, pos, len, 'utf8');
}

export function writeNum(buf: Buffer, pos: number, tag: number, n: number): number {
  if (n === 0) return pos;
  buf[pos++] = tag;
  return writeVarint(buf, pos, n);
}

/** Integers the hand-written varint covers (no negative int64, nothing past 2^53). */
export const okInt = (n: number) => Number.isSafeInteger(n) && n >= 0;

/** True when `m` has none of Message's optional fields: the hand-written codec writes only the plain ones (fields 1-8). */
export const isPlain = (m: Message) =>
  m.replyToId === undefined &&
  m.editedAtMs === undefined &&
  m.editCount === undefined &&
  m.deleted === undefined &&
  m.reactions === undefined &&
  m.lastChangeId === undefined &&
  m.targetId === undefined &&
  m.emoji === undefined &&
  m.reactionRemoved === undefined;

/**
 * `m` encoded as a `Message`, or, with `field`, as a message holding it in
 * that field (field 1 = `ServerFrame{message}`). Undefined when an integer is
 * outside what the hand-written varint covers.
 */
export function encodeMessage(m: Message, field?: number): Buffer | undefined {
  let out: Buffer | undefined;
  encodeMessageInto(m, field, (size) => {
    out = Buffer.allocUnsafe(size);
    return [out, 0];
  });
  return out;
}

/**
 * Like `encodeMessage`, but writes where `place(size)` says: [buffer, offset]
 * with `size` bytes free. False (nothing placed) for integers the hand-written
 * varint does not cover.
 */
export function encodeMessageInto(m: Message, field: number | undefined, place: (size: number) => [Buffer, number]): boolean {
  if (!okInt(m.id) || !okInt(m.sentAtMs)) return false;
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
  const head = field ? 1 + varintSize(inner) : 0;
  const [buf, start] = place(head + inner);
  let pos = start;
  if (field) {
    buf[pos++] = (field << 3) | 2;
    pos = writeVarint(buf, pos, inner);
  }
  pos = writeStr(buf, pos, (1 << 3) | 2, m.channelId, lCh);
  pos = writeNum(buf, pos, 2 << 3, m.id);
  pos = writeStr(buf, pos, (3 << 3) | 2, m.senderUserId, lSu);
  pos = writeStr(buf, pos, (4 << 3) | 2, m.senderDeviceId, lSd);
  pos = writeStr(buf, pos, (5 << 3) | 2, m.clientMsgId, lCm);
  pos = writeStr(buf, pos, (6 << 3) | 2, m.body, lBody);
  pos = writeNum(buf, pos, 7 << 3, m.sentAtMs);
  buf[pos++] = 8 << 3;
  buf[pos] = KIND_NUMBER[m.kind] ?? 1;
  return true;
}

/** Reads a `Message` written by `encodeMessage` (no field wrapper). Unknown fields are skipped. */
export function decodeMessage(buf: Buffer): Message {
  const m: Message = { channelId: '', id: 0, senderUserId: '', senderDeviceId: '', clientMsgId: '', body: '', sentAtMs: 0, kind: 'user' };
  let pos = 0;
  const varint = () => {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) {
      const v = varint();
      if (tag >>> 3 === 2) m.id = v;
      else if (tag >>> 3 === 7) m.sentAtMs = v;
      else if (tag >>> 3 === 8) m.kind = KIND_NAME[v] ?? 'user';
    } else if (wire === 2) {
      const len = varint();
      const s = buf.toString('utf8', pos, pos + len);
      pos += len;
      switch (tag >>> 3) {
        case 1:
          m.channelId = s;
          break;
        case 3:
          m.senderUserId = s;
          break;
        case 4:
          m.senderDeviceId = s;
          break;
        case 5:
          m.clientMsgId = s;
          break;
        case 6:
          m.body = s;
          break;
      }
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported wire type ${wire} in a stored message`);
  }
  return m;
}
