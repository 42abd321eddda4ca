import type { Message } from '../../domain/model.js';
import type { MessageStore } from '../../ports/MessageStore.js';
import { invalid } from '../../domain/errors.js';
import { decodeMessage, encodeMessage } from '../../codec/messageWire.js';

/** One channel's history: ids ascending, each message's bytes at the same index. */
interface Log {
  ids: number[];
  bytes: Buffer[];
}

/**
 * History in process memory, one log per channel kept sorted by id. Appends
 * almost always arrive in id order, so insertion is O(1) amortized.
 *
 * Messages are kept as their protobuf bytes (see codec/messageWire), not as
 * objects: a stored message is one small buffer instead of an object and four
 * strings, so a node that has taken millions of messages keeps a heap the
 * garbage collector can still walk quickly. Reads decode what they return.
 *
 * Like the CQL store, `append` does not guard ids: a message appended under a
 * stored id replaces it (last write wins; ids come from the Sequencer, which
 * never reissues one), and a client_msg_id pointer whose row now holds another
 * message leads nowhere.
 */
export class MemoryMessageStore implements MessageStore {
  private readonly logs = new Map<string, Log>();
  /** sender -> client_msg_id -> n, where the message is (refLog[n], refId[n]): no object per message. */
  private readonly byClientId = new Map<string, Map<string, number>>();
  private readonly refLog: Log[] = [];
  private readonly refId: number[] = [];

  async append(message: Message) {
    const bytes = encodeMessage(message);
    if (!bytes) throw invalid(`message id ${message.id} or time ${message.sentAtMs} is not a non-negative integer below 2^53`);
    let log = this.logs.get(message.channelId);
    if (!log) this.logs.set(message.channelId, (log = { ids: [], bytes: [] }));
    const { ids } = log;
    let i = ids.length;
    while (i > 0 && ids[i - 1]! > message.id) i--;
    if (ids[i - 1] === message.id) log.bytes[i - 1] = bytes;
    else if (i === ids.length) {
      ids.push(message.id);
      log.bytes.push(bytes);
    } else {
      ids.splice(i, 0, message.id);
      log.bytes.splice(i, 0, bytes);
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
    const m = n === undefined ? undefined : at(this.refLog[n]!, this.refId[n]!);
    // The row may since hold another message (an id stored twice): then the pointer leads nowhere.
    return m && m.senderUserId === senderUserId && m.clientMsgId === clientMsgId ? m : undefined;
  }

  async get(channelId: string, id: number) {
    const log = this.logs.get(channelId);
    return log && at(log, id);
  }

  async after(channelId: string, afterId: number, limit: number) {
    const log = this.logs.get(channelId);
    if (!log || limit <= 0) return [];
    const i = lowerBound(log.ids, afterId + 1);
    return log.bytes.slice(i, i + limit).map(decodeMessage);
  }

  async before(channelId: string, beforeId: number, limit: number) {
    const log = this.logs.get(channelId);
    if (!log || limit <= 0) return [];
    const end = beforeId > 0 ? lowerBound(log.ids, beforeId) : log.ids.length;
    return log.bytes.slice(Math.max(0, end - limit), end).reverse().map(decodeMessage);
  }

  async maxId(channelId: string) {
    const log = this.logs.get(channelId);
    return log?.ids.length ? log.ids[log.ids.length - 1]! : 0;
  }
}

function at(log: Log, id: number): Message | undefined {
  const i = lowerBound(log.ids, id);
  return log.ids[i] === id ? decodeMessage(log.bytes[i]!) : undefined;
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
