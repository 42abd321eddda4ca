import type { Message } from '../../domain/model.js';
import type { MessageStore } from '../../ports/MessageStore.js';

/**
 * History in process memory, one array per channel kept sorted by id.
 * Appends almost always arrive in id order, so insertion is O(1) amortized.
 * Like the CQL store, `append` does not guard ids: a message appended under a
 * stored id replaces it (last write wins; ids come from the Sequencer, which
 * never reissues one), and a client_msg_id pointer whose row now holds another
 * message leads nowhere.
 */
export class MemoryMessageStore implements MessageStore {
  private readonly logs = new Map<string, Message[]>();
  /** sender -> client_msg_id -> message: the message itself, no key string or pointer object per message. */
  private readonly byClientId = new Map<string, Map<string, Message>>();

  async append(message: Message) {
    // Messages are immutable once stored: frozen in place and handed out as they are, no copy per write or read.
    const m = Object.freeze(message);
    let log = this.logs.get(m.channelId);
    if (!log) this.logs.set(m.channelId, (log = []));
    let i = log.length;
    while (i > 0 && log[i - 1]!.id > m.id) i--;
    if (log[i - 1]?.id === m.id) log[i - 1] = m;
    else if (i === log.length) log.push(m);
    else log.splice(i, 0, m);
    if (m.clientMsgId) {
      let mine = this.byClientId.get(m.senderUserId);
      if (!mine) this.byClientId.set(m.senderUserId, (mine = new Map()));
      mine.set(m.clientMsgId, m);
    }
  }

  async findByClientMsgId(senderUserId: string, clientMsgId: string) {
    const ref = this.byClientId.get(senderUserId)?.get(clientMsgId);
    // The row may since hold another message (an id stored twice): then the pointer leads nowhere.
    const m = ref && (await this.get(ref.channelId, ref.id));
    return m && m.senderUserId === senderUserId && m.clientMsgId === clientMsgId ? m : undefined;
  }

  async get(channelId: string, id: number) {
    const log = this.logs.get(channelId);
    if (!log) return undefined;
    const m = log[lowerBound(log, id)];
    return m && m.id === id ? m : undefined;
  }

  async after(channelId: string, afterId: number, limit: number) {
    const log = this.logs.get(channelId) ?? [];
    const i = lowerBound(log, afterId + 1);
    return log.slice(i, i + limit);
  }

  async before(channelId: string, beforeId: number, limit: number) {
    const log = this.logs.get(channelId) ?? [];
    const end = beforeId > 0 ? lowerBound(log, beforeId) : log.length;
    return log.slice(Math.max(0, end - limit), end).reverse();
  }

  async maxId(channelId: string) {
    const log = this.logs.get(channelId);
    return log?.length ? log[log.length - 1]!.id : 0;
  }
}

/** First index whose id >= target. */
function lowerBound(log: Message[], target: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (log[mid]!.id < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
