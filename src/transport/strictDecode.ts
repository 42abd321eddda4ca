import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { invalid } from '../domain/errors.js';
import type { ProtoSchema } from './protoSchema.js';

/**
 * Strict request decoding through the generated codecs. The protobuf runtime
 * replaces invalid UTF-8 with U+FFFD unless its reader decodes strings with a
 * fatal decoder, and grpc-js answers an exception thrown by a deserializer
 * with INTERNAL. So every request is decoded with a strict reader; a request
 * that fails is decoded again leniently (a bad `send` frame still has a
 * client_msg_id to answer), flagged with a message naming the field, and
 * refused by the handler with INVALID_ARGUMENT (`assertWellFormed`).
 */

class InvalidUtf8 extends Error {}

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const strictUtf8 = (bytes: Uint8Array): string => {
  try {
    return fatal.decode(bytes);
  } catch {
    throw new InvalidUtf8('invalid UTF-8');
  }
};

/** What ts-proto generates for every message. */
export interface GeneratedCodec<T> {
  decode(input: BinaryReader | Uint8Array, length?: number): T;
}

const flagged = new WeakMap<object, string>();

/** A deserializer for grpc-js that never throws: bad requests come back flagged. */
export function strictDecoder<T extends object>(codec: GeneratedCodec<T>, schema: ProtoSchema, typeName: string): (buf: Buffer) => T {
  return (buf) => {
    const reader = new BinaryReader(buf, strictUtf8);
    try {
      return codec.decode(reader);
    } catch (e) {
      const problem = explain(e, schema, typeName, buf, reader.pos);
      let msg: T;
      try {
        msg = codec.decode(buf);
      } catch {
        msg = {} as T;
      }
      flagged.set(msg, problem);
      return msg;
    }
  };
}

/** Why the decoder refused this request, if it did. */
export const problemWith = (msg: object): string | undefined => flagged.get(msg);

/** Throws INVALID_ARGUMENT if the decoder flagged this request. */
export function assertWellFormed(msg: object) {
  const problem = flagged.get(msg);
  if (problem) throw invalid(problem);
}

function explain(e: unknown, schema: ProtoSchema, typeName: string, buf: Uint8Array, pos: number): string {
  const path = fieldAt(schema, typeName, buf, pos);
  if (e instanceof InvalidUtf8) return `${path ?? 'a string field'} is not valid UTF-8 (${typeName})`;
  const why = e instanceof Error ? e.message : String(e);
  const detail = /MAX_SAFE_INTEGER/.test(why) ? `${path} is larger than 2^53 - 1` : `${path}: ${why}`;
  return `the request is not a valid ${typeName} message${path ? `: ${detail}` : ''}`;
}

/**
 * The path of the field whose value ends at or spans byte `pos` (where the
 * decoder stopped), e.g. `cursors[1].channel_id`, named from the descriptors.
 */
export function fieldAt(schema: ProtoSchema, typeName: string, buf: Uint8Array, pos: number): string | undefined {
  const fields = schema.fields(typeName);
  const reader = new BinaryReader(buf);
  const seen = new Map<number, number>();
  try {
    while (reader.pos < reader.len) {
      const [no, wt] = reader.tag();
      let start = reader.pos;
      if (wt === WireType.LengthDelimited) {
        const len = reader.uint32();
        start = reader.pos;
        reader.pos += len;
      } else reader.skip(wt, no);
      const index = seen.get(no) ?? 0;
      seen.set(no, index + 1);
      if (pos <= start || pos > reader.pos) continue;
      const f = fields.find((x) => x.number === no);
      if (!f) return undefined;
      const name = f.repeated ? `${f.name}[${index}]` : f.name;
      if (f.kind !== 'message' || !f.message || wt !== WireType.LengthDelimited) return name;
      const inner = fieldAt(schema, f.message, buf.subarray(start, reader.pos), pos - start);
      return inner ? `${name}.${inner}` : name;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
