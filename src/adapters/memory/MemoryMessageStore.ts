import type { Message } from '../../domain/model.js';
import type { MessageStore } from '../../ports/MessageStore.js';
import { invalid } from '../../domain/errors.js';
import { decodeMessage, encodeMessageInto } from '../../codec/messageWire.js';

/** One channel's history: ids ascending, and where each message's bytes are in the arena. */
interface Log {
  ids: number[];
  addrs: number[];
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
    const addr = this.arena.put(message);
    if (addr === undefined) throw invalid(`message id ${message.id} or time ${message.sentAtMs} is not a non-negative integer below 2^53`);
    let log = this.logs.get(message.channelId);
    if (!log) this.logs.set(message.channelId, (log = { ids: [], addrs: [] }));
    const { ids } = log;
    let i = ids.length;
    while (i > 0 && ids[i - 1]! > message.id) i--;
    if (ids[i - 1] === message.id) log.addrs[i - 1] = addr;
    else if (i === ids.length) {
      ids.push(message.id);
      log.addrs.push(addr);
    } else {
      ids.splice(i, 0, message.id);
      log.addrs.splice(i, 0, addr);
    }
    if (message.clientMsgId) {
      let mine = this.byClientId.get(message.senderUserId);
      if (!mine) this.byClientId.set(message.senderUserId, (mine = new Map()));
      mine.set(message.clientMsgId, this.refId.length);
      this.refLog.push(log);
      this.refId.push(message.id);
    }
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
    return log.addrs.slice(i, i + limit).map((a) => decodeMessage(this.arena.get(a)));
  }

  async before(channelId: string, beforeId: number, limit: number) {
    const log = this.logs.get(channelId);
    if (!log || limit <= 0) return [];
    const end = beforeId > 0 ? lowerBound(log.ids, beforeId) : log.ids.length;
    return log.addrs
      .slice(Math.max(0, end - limit), end)
      .reverse()
      .map((a) => decodeMessage(this.arena.get(a)));
  }

  private at(log: Log, id: number): Message | undefined {
    const i = lowerBound(log.ids, id);
    return log.ids[i] === id ? decodeMessage(this.arena.get(log.addrs[i]!)) : undefined;
  }

  async maxId(channelId: string) {
    const log = this.logs.get(channelId);
    return log?.ids.length ? log.ids[log.ids.length - 1]! : 0;
  }
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
