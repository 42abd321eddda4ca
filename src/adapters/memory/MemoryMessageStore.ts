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
  private readonly byClientId = new Map<string, { channelId: string; id: number }>();

  async append(message: Message) {
    let log = this.logs.get(message.channelId);
    if (!log) this.logs.set(message.channelId, (log = []));
    let i = log.length;
    while (i > 0 && log[i - 1]!.id > message.id) i--;
    if (log[i - 1]?.id === message.id) log[i - 1] = { ...message };
    else log.splice(i, 0, { ...message });
    if (message.clientMsgId) this.byClientId.set(`${message.senderUserId}/${message.clientMsgId}`, { channelId: message.channelId, id: message.id });
  }

  async findByClientMsgId(senderUserId: string, clientMsgId: string) {
    const ref = this.byClientId.get(`${senderUserId}/${clientMsgId}`);
    const m = ref && (await this.get(ref.channelId, ref.id));
    return m && m.senderUserId === senderUserId && m.clientMsgId === clientMsgId ? m : undefined;
  }

  async get(channelId: string, id: number) {
    const log = this.logs.get(channelId);
    if (!log) return undefined;
    const i = lowerBound(log, id);
    const m = log[i];
    return m && m.id === id ? { ...m } : undefined;
  }

  async after(channelId: string, afterId: number, limit: number) {
    const log = this.logs.get(channelId) ?? [];
    const i = lowerBound(log, afterId + 1);
    return log.slice(i, i + limit).map((m) => ({ ...m }));
  }

  async before(channelId: string, beforeId: number, limit: number) {
    const log = this.logs.get(channelId) ?? [];
    const end = beforeId > 0 ? lowerBound(log, beforeId) : log.length;
    return log
      .slice(Math.max(0, end - limit), end)
      .reverse()
      .map((m) => ({ ...m }));
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
