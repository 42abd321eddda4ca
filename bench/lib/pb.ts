import { varintSize, writeVarint } from '../../src/codec/messageWire.js';

// The varint helpers live once, in the product's hot-frame codec.
export { varintSize, writeVarint };
/**
 * Just enough protobuf wire format for the load generator's hot path: it
 * writes `send` frames and reads `message` frames without ts-proto objects, so
 * that the generator spends its core on traffic, not on decoding. The bytes
 * are exactly what the generated encoder would produce (the project's
 * decoders read them as usual); setup and control frames use ts-proto.
 */

/** Position after the last readVarint (module state: no allocation per call). */
export let pbPos = 0;

export function readVarint(buf: Buffer, pos: number): number {
  let result = 0;
  let mul = 1;
  for (;;) {
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 128;
  }
  pbPos = pos;
  return result;
}

/** Skips one field value of the given wire type starting at pos; returns the new position. */
function skip(buf: Buffer, pos: number, wireType: number): number {
  switch (wireType) {
    case 0:
      readVarint(buf, pos);
      return pbPos;
    case 1:
      return pos + 8;
    case 2: {
      const len = readVarint(buf, pos);
      return pbPos + len;
    }
    case 5:
      return pos + 4;
    default:
      throw new Error(`unsupported wire type ${wireType}`);
  }
}

/** A `message` frame's fields that the generator needs; `bodyStart === -1` when the frame is not a message. */
export const msg = { id: 0, bodyStart: -1, bodyEnd: -1, chStart: -1, chEnd: -1 };

/**
 * Reads a chat.v1.ServerFrame. Returns its oneof field number (1 message,
 * 2 send_ack, 3 send_error, 7 caught_up, ...); for messages, fills `msg`.
 */
export function readServerFrame(buf: Buffer): number {
  msg.bodyStart = -1;
  if (buf.length === 0) return 0;
  const tag = readVarint(buf, 0);
  const field = Math.floor(tag / 8);
  if (field !== 1 || (tag & 7) !== 2) return field;
  const len = readVarint(buf, pbPos);
  let pos = pbPos;
  const end = pos + len;
  msg.id = 0;
  while (pos < end) {
    const t = readVarint(buf, pos);
    pos = pbPos;
    const f = t >>> 3;
    const wt = t & 7;
    if (f === 2 && wt === 0) {
      msg.id = readVarint(buf, pos);
      pos = pbPos;
    } else if ((f === 6 || f === 1) && wt === 2) {
      const l = readVarint(buf, pos);
      if (f === 6) {
        msg.bodyStart = pbPos;
        msg.bodyEnd = pbPos + l;
      } else {
        msg.chStart = pbPos;
        msg.chEnd = pbPos + l;
      }
      pos = pbPos + l;
    } else {
      pos = skip(buf, pos, wt);
    }
  }
  return 1;
}

/**
 * Pre-encodes everything of a ClientFrame{send: SendMessageRequest} except
 * client_msg_id (a 36-character UUID) and the body (`bodyBytes` long), then
 * fills those per send. Every send is a first attempt (the load generator
 * never resends), and says so (first_attempt), as the SDK does.
 */
export class SendFrameEncoder {
  private readonly head: Buffer;
  readonly size: number;
  private readonly uuidAt: number;
  private readonly bodyAt: number;

  constructor(
    channelId: string,
    readonly bodyBytes: number,
  ) {
    const ch = Buffer.from(channelId);
    const inner = 1 + varintSize(ch.length) + ch.length + 2 + 36 + 1 + varintSize(bodyBytes) + bodyBytes + 2;
    this.size = 1 + varintSize(inner) + inner;
    const b = Buffer.alloc(this.size);
    let p = 0;
    b[p++] = 0x0a; // ClientFrame.send (1, LEN)
    p = writeVarint(b, p, inner);
    b[p++] = 0x0a; // channel_id (1, LEN)
    p = writeVarint(b, p, ch.length);
    p += ch.copy(b, p);
    b[p++] = 0x12; // client_msg_id (2, LEN)
    b[p++] = 36;
    this.uuidAt = p;
    p += 36;
    b[p++] = 0x1a; // body (3, LEN)
    p = writeVarint(b, p, bodyBytes);
    this.bodyAt = p;
    p += bodyBytes;
    b[p++] = 0x28; // first_attempt (5, VARINT)
    b[p++] = 1;
    this.head = b;
  }

  /** A new frame; `body` must be ASCII of exactly `bodyBytes` characters. */
  encode(uuid: string, body: string): Buffer {
    const b = Buffer.allocUnsafe(this.size);
    this.head.copy(b, 0, 0, this.uuidAt);
    b.write(uuid, this.uuidAt, 36, 'latin1');
    this.head.copy(b, this.uuidAt + 36, this.uuidAt + 36, this.bodyAt);
    b.write(body, this.bodyAt, this.bodyBytes, 'latin1');
    this.head.copy(b, this.bodyAt + this.bodyBytes, this.bodyAt + this.bodyBytes);
    return b;
  }
}

/*
 * The bare relay protocol (bench.Relay/Connect, raw bytes both ways):
 *   hello:  1: device (varint)  2: group + 1 (varint, optional)
 *   direct: 3: target device (varint)  5: payload (bytes)
 *   group:  4: group (varint)          5: payload (bytes)
 *   ack:    6: the first ACK_ECHO bytes of the payload (bytes)  7: id (varint)
 * The relay forwards a data frame's bytes unchanged; the ack and durable
 * relays answer each data frame with an ack to its sender (about the size of
 * the product's send_ack: an echo of the client's id and the message id).
 */

/** Payload bytes an ack echoes (the body's header, which names the message). */
export const ACK_ECHO = 36;

export function relayHello(device: number, group?: number): Buffer {
  const b = Buffer.alloc(2 + varintSize(device) + (group === undefined ? 0 : 1 + varintSize(group + 1)));
  let p = 0;
  b[p++] = 0x08;
  p = writeVarint(b, p, device);
  if (group !== undefined) {
    b[p++] = 0x10;
    writeVarint(b, p, group + 1);
  }
  return b;
}

/** Size of a relay data frame for a target and payload length. */
export function relayFrameSize(target: number, payloadLen: number): number {
  return 1 + varintSize(target) + 1 + varintSize(payloadLen) + payloadLen;
}

/** A relay data frame: field 3 (direct) or 4 (group), then the payload (ASCII). */
export function relayFrame(group: boolean, target: number, payload: string): Buffer {
  const b = Buffer.allocUnsafe(relayFrameSize(target, payload.length));
  let p = 0;
  b[p++] = group ? 0x20 : 0x18;
  p = writeVarint(b, p, target);
  b[p++] = 0x2a;
  p = writeVarint(b, p, payload.length);
  b.write(payload, p, payload.length, 'latin1');
  return b;
}

/** The relay's ack for data frame `frame`, carrying `id`. */
export function relayAck(frame: Buffer, id: number): Buffer {
  readVarint(frame, 1);
  const len = readVarint(frame, pbPos + 1);
  const start = pbPos;
  const echo = Math.min(ACK_ECHO, len);
  const b = Buffer.allocUnsafe(2 + echo + 1 + varintSize(id));
  b[0] = 0x32;
  b[1] = echo;
  frame.copy(b, 2, start, start + echo);
  b[2 + echo] = 0x38;
  writeVarint(b, 3 + echo, id);
  return b;
}

/** Echo offsets of a relay ack (fills msg.bodyStart/bodyEnd), false for other frames. */
export function readRelayAck(buf: Buffer): boolean {
  if (buf.length < 2 || buf[0] !== 0x32) return false;
  msg.bodyStart = 2;
  msg.bodyEnd = 2 + buf[1]!;
  return true;
}

/** Payload offsets of a relay data frame (fills msg.bodyStart/bodyEnd), false for other frames. */
export function readRelayFrame(buf: Buffer): boolean {
  if (buf.length === 0 || (buf[0] !== 0x18 && buf[0] !== 0x20)) return false;
  readVarint(buf, 1);
  const len = readVarint(buf, pbPos + 1);
  msg.bodyStart = pbPos;
  msg.bodyEnd = pbPos + len;
  return true;
}

/** The client_msg_id of a send_ack frame: offset of its 36 characters in `buf`, or -1. */
export function readAckId(buf: Buffer): number {
  if (buf.length < 2 || buf[0] !== 0x12) return -1;
  readVarint(buf, 1);
  const pos = pbPos;
  if (buf[pos] !== 0x0a) return -1;
  const len = readVarint(buf, pos + 1);
  return len === 36 ? pbPos : -1;
}

/** The message id of a send_ack whose client_msg_id starts at `at` (from readAckId), or 0. */
export function readAckMessageId(buf: Buffer, at: number): number {
  let pos = at + 36;
  if (buf[pos] === 0x12) {
    const len = readVarint(buf, pos + 1);
    pos = pbPos + len;
  }
  return buf[pos] === 0x18 ? readVarint(buf, pos + 1) : 0;
}

/**
 * client_msg_ids that name the message: <tag, 8 hex>-<per-process random>-<seq, 12 hex>,
 * a valid UUID shape, unique per process, so an ack tells which message it accepts.
 */
export class MsgIds {
  private readonly mid: string;
  constructor(random: string) {
    const h = random.replace(/[^0-9a-f]/g, '').padEnd(12, '0');
    this.mid = `${h.slice(0, 4)}-${h.slice(4, 8)}-${h.slice(8, 12)}`;
  }
  make(tag: number, seq: number): string {
    return `${tag.toString(16).padStart(8, '0')}-${this.mid}-${seq.toString(16).padStart(12, '0')}`;
  }
}

/** The seq of an id made by MsgIds, read from `buf` at `at`. */
export function msgIdSeq(buf: Buffer, at: number): number {
  return parseInt(buf.toString('latin1', at + 24, at + 36), 16);
}
