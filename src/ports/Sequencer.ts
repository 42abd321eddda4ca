/**
 * Per-channel message ids.
 * Guarantees: `next` returns ids that are unique and strictly increasing per
 * channel across all nodes, and never returns an id that was returned before,
 * even after the backing store lost its data or came back with older data
 * (implementations move such a counter past durable history first, within
 * limits they document: see RedisSequencer's margin). The message store
 * relies on this: it does not check ids (see MessageStore).
 * Ids are dense except where a send failed after taking one, or where a
 * counter was moved past history.
 * Failures: rejects with DomainError('unavailable') (an id may have been used up).
 */
export interface Sequencer {
  next(channelId: string): Promise<number>;
  /** The last id issued for a channel (0 if none); after the backing store lost data, at least the highest stored id. */
  current(channelId: string): Promise<number>;
}
