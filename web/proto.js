// A minimal protobuf (proto3) codec for the chat.v1 messages the web client uses.
// Schemas are { fieldNumber: [name, type, repeated?] } where type is 'string',
// 'uint64', 'int64', 'uint32', 'int32', 'bool', 'enum' or a nested schema.
// 64-bit integers are JS numbers: ids and timestamps stay below 2^53.
// Decoding skips unknown fields, so newer servers stay compatible.

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

// ---- wire level ----

function writeVarint(out, v) {
  let n = Math.floor(Number(v));
  if (n < 0) n += 2 ** 64; // int32/int64 two's complement (never for our ids)
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

function readVarint(r) {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (r.pos >= r.buf.length) throw new Error('truncated varint');
    const b = r.buf[r.pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
}

function skip(r, wire) {
  if (wire === 0) readVarint(r);
  else if (wire === 1) r.pos += 8;
  else if (wire === 2) r.pos += readVarint(r);
  else if (wire === 5) r.pos += 4;
  else throw new Error(`unsupported wire type ${wire}`);
}

const SCALAR_DEFAULTS = { string: '', uint64: 0, int64: 0, uint32: 0, int32: 0, bool: false, enum: 0 };

// ---- schema level ----

/** Encodes `obj` with `schema`; fields at their default value are omitted (proto3). */
export function encode(schema, obj, out = []) {
  for (const [no, [name, type, repeated]] of Object.entries(schema)) {
    const value = obj?.[name];
    const values = repeated ? (value ?? []) : [value];
    for (const v of values) {
      if (v === undefined || v === null) continue;
      if (typeof type === 'object') {
        const inner = encode(type, v, []);
        writeVarint(out, (Number(no) << 3) | 2);
        writeVarint(out, inner.length);
        for (const b of inner) out.push(b);
      } else if (type === 'string') {
        if (!repeated && v === '') continue;
        const bytes = utf8.encode(v);
        writeVarint(out, (Number(no) << 3) | 2);
        writeVarint(out, bytes.length);
        for (const b of bytes) out.push(b);
      } else {
        const n = type === 'bool' ? (v ? 1 : 0) : Number(v);
        if (!repeated && n === 0) continue;
        writeVarint(out, Number(no) << 3);
        writeVarint(out, n);
      }
    }
  }
  return out;
}

/** Encodes to a Uint8Array. */
export const toBytes = (schema, obj) => Uint8Array.from(encode(schema, obj));

/** Decodes bytes with `schema` into a plain object with every field present (defaults filled in). */
export function decode(schema, buf, r = { buf, pos: 0 }, end = buf.length) {
  const obj = {};
  for (const [name, type, repeated] of Object.values(schema)) {
    obj[name] = repeated ? [] : typeof type === 'object' ? undefined : SCALAR_DEFAULTS[type];
  }
  while (r.pos < end) {
    const tag = readVarint(r);
    const field = schema[Math.floor(tag / 8)];
    const wire = tag & 7;
    if (!field) {
      skip(r, wire);
      continue;
    }
    const [name, type, repeated] = field;
    let v;
    if (typeof type === 'object' || type === 'string') {
      if (wire !== 2) throw new Error(`field ${name}: wire type ${wire}, expected 2`);
      const len = readVarint(r);
      const stop = r.pos + len;
      if (stop > end) throw new Error(`field ${name} is truncated`);
      if (type === 'string') {
        v = utf8d.decode(r.buf.subarray(r.pos, stop));
        r.pos = stop;
      } else {
        v = decode(type, r.buf, r, stop);
      }
    } else if (wire === 2) {
      // packed repeated scalars
      const stop = r.pos + readVarint(r);
      while (r.pos < stop) obj[name].push(scalar(type, readVarint(r)));
      continue;
    } else {
      v = scalar(type, readVarint(r));
    }
    if (repeated) obj[name].push(v);
    else obj[name] = v;
  }
  r.pos = end;
  return obj;
}

function scalar(type, n) {
  if (type === 'bool') return n !== 0;
  if ((type === 'int64' && n >= 2 ** 63) || ((type === 'int32' || type === 'enum') && n >= 2 ** 31)) return n - 2 ** 64;
  return n;
}

/** Decodes a oneof container: returns { case: name, value } for the field present (or case undefined). */
export function decodeOneof(schema, buf) {
  const obj = decode(schema, buf);
  for (const [name] of Object.values(schema)) if (obj[name] !== undefined) return { case: name, value: obj[name] };
  return { case: undefined, value: undefined };
}

// ---- chat.v1 schemas (field numbers from proto/chat/v1/*.proto) ----

export const Empty = {};
export const ChannelCursor = { 1: ['channelId', 'string'], 2: ['lastMessageId', 'uint64'] };
export const Message = {
  1: ['channelId', 'string'],
  2: ['id', 'uint64'],
  3: ['senderUserId', 'string'],
  4: ['senderDeviceId', 'string'],
  5: ['clientMsgId', 'string'],
  6: ['body', 'string'],
  7: ['sentAtMs', 'int64'],
  8: ['kind', 'enum'],
};
export const Presence = { 1: ['userId', 'string'], 2: ['state', 'enum'], 3: ['lastActiveAtMs', 'int64'] };
export const PresenceState = { ONLINE: 1, OFFLINE: 2 };
export const Member = { 1: ['userId', 'string'], 2: ['role', 'enum'], 3: ['userName', 'string'] };
export const Channel = {
  1: ['channelId', 'string'],
  2: ['kind', 'enum'],
  3: ['title', 'string'],
  4: ['members', Member, true],
  5: ['lastMessageId', 'uint64'],
  6: ['lastReadMessageId', 'uint64'],
  7: ['unreadCount', 'uint64'],
  8: ['createdAtMs', 'int64'],
};
export const ChannelKind = { DIRECT: 1, GROUP: 2 };

export const RegisterRequest = { 1: ['userName', 'string'], 2: ['password', 'string'] };
export const RegisterResponse = { 1: ['userId', 'string'] };
export const LoginRequest = { 1: ['userName', 'string'], 2: ['password', 'string'], 3: ['deviceId', 'string'] };
export const LoginResponse = { 1: ['accessToken', 'string'], 2: ['userId', 'string'], 3: ['deviceId', 'string'], 4: ['expiresAtMs', 'int64'] };

export const SubscribeRequest = { 1: ['cursors', ChannelCursor, true] };
export const SendMessageRequest = { 1: ['channelId', 'string'], 2: ['clientMsgId', 'string'], 3: ['body', 'string'] };
export const SendMessageResponse = { 1: ['message', Message], 2: ['duplicate', 'bool'] };
export const MarkReadRequest = { 1: ['channelId', 'string'], 2: ['lastReadMessageId', 'uint64'] };
export const AckDeliveredRequest = { 1: ['cursors', ChannelCursor, true] };
export const SetTypingRequest = { 1: ['channelId', 'string'], 2: ['typing', 'bool'] };
export const ListHistoryRequest = { 1: ['channelId', 'string'], 2: ['beforeId', 'uint64'], 3: ['limit', 'uint32'] };
export const ListHistoryResponse = { 1: ['messages', Message, true], 2: ['nextBeforeId', 'uint64'] };
export const ListChannelsResponse = { 1: ['channels', Channel, true] };
export const OpenDirectRequest = { 1: ['peer', 'string'] };
export const OpenDirectResponse = { 1: ['channel', Channel] };
export const HeartbeatResponse = { 1: ['intervalMs', 'int64'] };
export const GetPresenceRequest = { 1: ['userIds', 'string', true] };
export const GetPresenceResponse = { 1: ['presences', Presence, true] };

const ServerAddress = { 1: ['nodeId', 'string'], 2: ['address', 'string'], 3: ['region', 'string'] };
/** chat.v1.ServerFrame: a oneof, decode with decodeOneof. */
export const ServerFrame = {
  1: ['message', Message],
  2: ['sendAck', { 1: ['clientMsgId', 'string'], 2: ['channelId', 'string'], 3: ['messageId', 'uint64'], 4: ['sentAtMs', 'int64'], 5: ['duplicate', 'bool'] }],
  3: ['sendError', { 1: ['clientMsgId', 'string'], 2: ['code', 'int32'], 3: ['message', 'string'] }],
  4: ['receipt', { 1: ['channelId', 'string'], 2: ['userId', 'string'], 3: ['deviceId', 'string'], 4: ['lastReadMessageId', 'uint64'] }],
  5: ['typing', { 1: ['channelId', 'string'], 2: ['userId', 'string'], 3: ['deviceId', 'string'], 4: ['typing', 'bool'] }],
  6: ['presence', Presence],
  7: ['caughtUp', { 1: ['cursors', ChannelCursor, true] }],
  8: ['reconnect', { 1: ['server', ServerAddress], 2: ['reason', 'string'] }],
  9: ['membership', { 1: ['channelId', 'string'], 2: ['userId', 'string'], 3: ['change', 'enum'], 4: ['byUserId', 'string'] }],
  10: ['error', { 1: ['frame', 'string'], 2: ['code', 'int32'], 3: ['message', 'string'] }],
};
