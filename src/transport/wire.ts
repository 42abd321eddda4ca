import { isUtf8 } from 'node:buffer';
import { invalid } from '../domain/errors.js';

/**
 * Request decoding that can say *why* a request is bad. protobufjs replaces
 * invalid UTF-8 with U+FFFD and grpc-js answers a decoder exception with
 * INTERNAL; we want INVALID_ARGUMENT naming the field. Decoded objects that
 * failed a check are remembered here and rejected by the handler.
 */
const rejected = new WeakMap<object, string>();

/** Field numbers that hold strings, and nested messages to descend into. */
export interface WireSchema {
  name: string;
  strings: Record<number, string>;
  nested?: Record<number, WireSchema>;
}

export function checkedDecoder<T extends object>(schema: WireSchema, decode: (b: Buffer) => T): (b: Buffer) => T {
  return (buf: Buffer) => {
    let msg: T;
    try {
      msg = decode(buf);
    } catch {
      const stub = {} as T;
      rejected.set(stub, `the request is not a valid ${schema.name} message`);
      return stub;
    }
    const problem = findProblem(buf, schema);
    if (problem) rejected.set(msg, problem);
    return msg;
  };
}

/** Throws INVALID_ARGUMENT if the decoder flagged this request. */
export function assertWellFormed(msg: object) {
  const problem = rejected.get(msg);
  if (problem) throw invalid(problem);
}

function findProblem(buf: Uint8Array, schema: WireSchema): string | undefined {
  let pos = 0;
  const varint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated');
      const b = buf[pos++]!;
      if (shift < 49) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  };
  try {
    while (pos < buf.length) {
      const tag = varint();
      const field = Math.floor(tag / 8);
      switch (tag & 7) {
        case 0:
          varint();
          break;
        case 1:
          pos += 8;
          break;
        case 5:
          pos += 4;
          break;
        case 2: {
          const len = varint();
          const bytes = buf.subarray(pos, pos + len);
          pos += len;
          const str = schema.strings[field];
          if (str && !isUtf8(bytes)) return `${str} is not valid UTF-8`;
          const sub = schema.nested?.[field];
          if (sub) {
            const p = findProblem(bytes, sub);
            if (p) return p;
          }
          break;
        }
        default:
          return `the request is not a valid ${schema.name} message`;
      }
    }
  } catch {
    return `the request is not a valid ${schema.name} message`;
  }
  return undefined;
}

const cursor: WireSchema = { name: 'chat.v1.ChannelCursor', strings: { 1: 'channel_id' } };
export const SEND_SCHEMA: WireSchema = {
  name: 'chat.v1.SendMessageRequest',
  strings: { 1: 'channel_id', 2: 'client_msg_id', 3: 'body' },
};
export const CLIENT_FRAME_SCHEMA: WireSchema = {
  name: 'chat.v1.ClientFrame',
  strings: {},
  nested: {
    1: SEND_SCHEMA,
    2: { name: 'chat.v1.AckDeliveredRequest', strings: {}, nested: { 1: cursor } },
    3: { name: 'chat.v1.MarkReadRequest', strings: { 1: 'channel_id' } },
    4: { name: 'chat.v1.SetTypingRequest', strings: { 1: 'channel_id' } },
    6: { name: 'chat.v1.Resume', strings: {}, nested: { 1: cursor } },
  },
};
