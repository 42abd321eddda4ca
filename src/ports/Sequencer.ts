/**
 * Per-channel message ids.
 * Guarantees: `next` returns ids that are unique and strictly increasing per
 * channel across all nodes, and never returns an id that was returned before,
 * even after the backing store lost its data or came back with older data
 * (implementations move such a counter past durable history first, within
 * limits they document: see RedisSequencer's margin). The message store
 * relies on this: it does not check ids (see MessageStore).
 * Ids are dense except where a send failed after taking one, or where a
 * counter was moved past history (that jump is recorded, see SkippedIds).
 * Failures: rejects with DomainError('unavailable') (an id may have been used up).
 */
export interface Sequencer {
  /**
   * Creates the counter of a channel that is being created (at 0: its first
   * id is 1). Call it only for a channel that did not exist: a counter found
   * missing later is then known to be lost, never new, and is re-seeded with
   * the margin even when the channel has no history yet (its first ids may
   * be in flight). An existing counter is left alone.
   */
  open(channelId: string): Promise<void>;
  next(channelId: string): Promise<number>;
  /** The last id issued for a channel (0 if none); after the backing store lost data, at least the highest stored id. */
  current(channelId: string): Promise<number>;
}
