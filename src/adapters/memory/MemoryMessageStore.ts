import type { Message } from '../../domain/model.js';
import { applyReaction, isEntry } from '../../domain/lifecycle.js';
import type { MessageStore } from '../../ports/MessageStore.js';
import { invalid } from '../../domain/errors.js';
import { decodeMessage, encodeMessageInto } from '../../codec/messageWire.js';

/** One channel's history: ids ascending, and where each message's bytes are in the arena. */
interface Log {
  ids: number[];
  addrs: number[];
  /** The optional fields of the messages that have any (replies, lifecycle state and entries), by id. */
  extra: Map<number, Extra>;
  /** Ids of lifecycle entries, ascending (unread counts leave them out). */
  changes: number[];
}

/** What the arena's bytes do not hold: Message's optional fields, plus the ids of a message's edit entries. */
type Extra = Partial<Message> & { editIds?: number[] };

const OPTIONAL = ['replyToId', 'editedAtMs', 'editCount', 'deleted', 'reactions', 'lastChangeId', 'targetId', 'emoji', 'reactionRemoved'] as const;

/** The plain fields of `m` (what the arena encodes) and its optional ones, if any. */
function split(m: Message): [Message, Extra | undefined] {
  const base: Message = {
    channelId: m.channelId,
    id: m.id,
    senderUserId: m.senderUserId,
    senderDeviceId: m.senderDeviceId,
    clientMsgId: m.clientMsgId,
    body: m.body,
    sentAtMs: m.sentAtMs,
    kind: m.kind,
  };
  let extra: Extra | undefined;
  for (const k of OPTIONAL) if (m[k] !== undefined) (extra ??= {})[k] = m[k] as never;
  return [base, extra];
}

/** Arena chunk size: one ArrayBuffer per ~5,000 typical messages. */
const CHUNK = 1 << 20;

/**
 * Append-only storage for message bytes: records (4-byte length, then the
 * bytes) packed into 1 MiB chunks, addressed by chunk * CHUNK + offset. A
 * buffer per message would mean one ArrayBuffer per few dozen messages, and
 * V8 slows down (synchronously, on allocation) as hundreds of thousands of
 * live ArrayBuffers pile up.
 */
class Arena {
  private readonly chunks: Buffer[] = [];
  private pos = CHUNK;
  /** Address of the record started last. */
  private last = 0;

  /** Writes `m` as a record; its address, or undefined when it cannot be encoded. */
  put(m: Message): number | undefined {
    const ok = encodeMessageInto(m, undefined, (size) => {
      const need = 4 + size;
      if (need > CHUNK) {
        // Larger than a chunk (never with the body limits in force): a chunk of its own.
        this.chunks.push(Buffer.allocUnsafeSlow(need));
        this.pos = CHUNK;
        return this.record(0, size);
      }
      if (this.pos + need > CHUNK) {
        this.chunks.push(Buffer.allocUnsafeSlow(CHUNK));
        this.pos = 0;
      }
      const at = this.pos;
      this.pos += need;
      return this.record(at, size);
    });
    return ok ? this.last : undefined;
  }

  /** Overwrites a record's bytes with zeros: a replaced body is then gone from memory, not just unreachable. */
  wipe(addr: number) {
    const chunk = this.chunks[Math.floor(addr / CHUNK)]!;
    const off = addr % CHUNK;
    chunk.fill(0, off + 4, off + 4 + chunk.readUInt32LE(off));
  }

  get(addr: number): Buffer {
    const chunk = this.chunks[Math.floor(addr / CHUNK)]!;
    const off = addr % CHUNK;
    return chunk.subarray(off + 4, off + 4 + chunk.readUInt32LE(off));
  }

  /** Starts a record of `size` bytes at `off` of the newest chunk: [chunk, where the bytes go]. */
  private record(off: number, size: number): [Buffer, number] {
    const chunk = this.chunks[this.chunks.length - 1]!;
    chunk.writeUInt32LE(size, off);
    this.last = (this.chunks.length - 1) * CHUNK + off;
    return [chunk, off + 4];
  }
}

export class MemoryMessageStore implements MessageStore {
  private readonly logs = new Map<string, Log>();
  private readonly arena = new Arena();
  /** sender -> client_msg_id -> n, where the message is (refLog[n], refId[n]): no object per message. */
  private readonly byClientId = new Map<string, Map<string, number>>();
  private readonly refLog: Log[] = [];
  private readonly refId: number[] = [];

  async append(message: Message) {
    const [base, extra] = split(message);
    const addr = this.arena.put(base);
    if (addr === undefined) throw invalid(`message id ${message.id} or time ${message.sentAtMs} is not a non-negative integer below 2^53`);
    let log = this.logs.get(message.channelId);
    if (!log) this.logs.set(message.channelId, (log = { ids: [], addrs: [], extra: new Map(), changes: [] }));
    const { ids } = log;
    let i = ids.length;
    while (i > 0 && ids[i - 1]! > message.id) i--;
    if (ids[i - 1] === message.id) {
      this.arena.wipe(log.addrs[i - 1]!);
      log.addrs[i - 1] = addr;
    } else if (i === ids.length) {
      ids.push(message.id);
      log.addrs.push(addr);
    } else {
      ids.splice(i, 0, message.id);
      log.addrs.splice(i, 0, addr);
    }
    if (extra) log.extra.set(message.id, extra);
    else log.extra.delete(message.id);
    if (isEntry(message)) insertSorted(log.changes, message.id);
    if (message.clientMsgId) {
      let mine = this.byClientId.get(message.senderUserId);
      if (!mine) this.byClientId.set(message.senderUserId, (mine = new Map()));
      mine.set(message.clientMsgId, this.refId.length);
      this.refLog.push(log);
      this.refId.push(message.id);
    }
  }

  async applyChange(entry: Message) {
    const log = this.logs.get(entry.channelId);
    const target = entry.targetId;
    if (!log || target === undefined) return;
    const i = lowerBound(log.ids, target);
    if (log.ids[i] !== target) return;
    const x: Extra = log.extra.get(target) ?? {};
    log.extra.set(target, x);
    if ((x.lastChangeId ?? 0) < entry.id) x.lastChangeId = entry.id;
    if (entry.kind === 'reaction') x.reactions = applyReaction(x.reactions, entry.senderUserId, entry.emoji ?? '', !!entry.reactionRemoved);
    else if (entry.kind === 'edit' && !x.deleted && !x.editIds?.includes(entry.id)) {
      x.editIds = [...(x.editIds ?? []), entry.id];
      x.editCount = x.editIds.length;
      if (entry.id === Math.max(...x.editIds)) {
        x.editedAtMs = entry.sentAtMs;
        this.rewrite(log, i, entry.body);
      }
    } else if (entry.kind === 'delete') {
      x.deleted = true;
      this.rewrite(log, i, '');
      for (const id of x.editIds ?? []) this.rewrite(log, lowerBound(log.ids, id), '');
    }
  }

  /** Replaces the body of the message at index `i`, wiping the old bytes. */
  private rewrite(log: Log, i: number, body: string) {
    const old = log.addrs[i];
    if (old === undefined) return;
    const m = decodeMessage(this.arena.get(old));
    m.body = body;
    const addr = this.arena.put(m);
    if (addr === undefined) return;
    this.arena.wipe(old);
    log.addrs[i] = addr;
  }

  async countChanges(channelId: string, afterId: number, upTo: number) {
    const c = this.logs.get(channelId)?.changes;
    return c ? Math.max(0, lowerBound(c, upTo + 1) - lowerBound(c, afterId + 1)) : 0;
  }

  async findByClientMsgId(senderUserId: string, clientMsgId: string) {
    const n = this.byClientId.get(senderUserId)?.get(clientMsgId);
    const m = n === undefined ? undefined : this.at(this.refLog[n]!, this.refId[n]!);
    // The row may since hold another message (an id stored twice): then the pointer leads nowhere.
    return m && m.senderUserId === senderUserId && m.clientMsgId === clientMsgId ? m : undefined;
  }

  async get(channelId: string, id: number) {
    const log = this.logs.get(channelId);
    return log && this.at(log, id);
  }

  async after(channelId: string, afterId: number, limit: number) {
    const log = this.logs.get(channelId);
    if (!log || limit <= 0) return [];
    const i = lowerBound(log.ids, afterId + 1);
    return log.ids.slice(i, i + limit).map((id, k) => this.read(log, id, log.addrs[i + k]!));
  }

  async before(channelId: string, beforeId: number, limit: number) {
    const log = this.logs.get(channelId);
    if (!log || limit <= 0) return [];
    const end = beforeId > 0 ? lowerBound(log.ids, beforeId) : log.ids.length;
    const start = Math.max(0, end - limit);
    const out: Message[] = [];
    for (let k = end - 1; k >= start; k--) out.push(this.read(log, log.ids[k]!, log.addrs[k]!));
    return out;
  }

  private at(log: Log, id: number): Message | undefined {
    const i = lowerBound(log.ids, id);
    return log.ids[i] === id ? this.read(log, id, log.addrs[i]!) : undefined;
  }

  /** The message at `addr` with its optional fields (copies: a caller never holds the store's state). */
  private read(log: Log, id: number, addr: number): Message {
    const m = decodeMessage(this.arena.get(addr));
    const x = log.extra.get(id);
    if (!x) return m;
    for (const k of OPTIONAL) if (x[k] !== undefined) (m as Extra)[k] = x[k] as never;
    if (m.reactions) m.reactions = m.reactions.map((r) => ({ emoji: r.emoji, userIds: [...r.userIds] }));
    return m;
  }

  async maxId(channelId: string) {
    const log = this.logs.get(channelId);
    return log?.ids.length ? log.ids[log.ids.length - 1]! : 0;
  }
}

function insertSorted(ids: number[], id: number) {
  const i = lowerBound(ids, id);
  if (ids[i] !== id) ids.splice(i, 0, id);
}

/** First index whose id >= target. */
function lowerBound(ids: number[], target: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
