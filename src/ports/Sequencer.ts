/**
 * Per-channel message ids.
 * Guarantees: `next` returns ids that are unique and strictly increasing per
 * channel across all nodes, and never returns an id that was returned before,
 * even after the backing store lost its data (implementations re-seed from
 * durable history). Ids are dense except where a send failed after taking one.
 */
export interface Sequencer {
  next(channelId: string): Promise<number>;
  /** The last id issued for a channel (0 if none). */
  current(channelId: string): Promise<number>;
  /**
   * Called when an issued id turned out to be taken in storage (the backing
   * store lost acknowledged increments, e.g. a failover to a lagging replica):
   * moves the counter past everything durable so the next id is fresh.
   */
  resync(channelId: string): Promise<void>;
}
