import type { IdRange } from '../domain/skipped.js';

export type { IdRange };

/**
 * Per-channel ranges of ids that were never issued: the jump a sequencer
 * makes when it re-seeds a counter its backing store lost (see
 * RedisSequencer). Durable, so that every session on every node delivers past
 * such a range at once instead of waiting for ids that will never come, and
 * unread counts leave them out.
 * Guarantees: `record` is idempotent; once it resolves, `between` on every
 * node returns the range. A range only ever holds ids no send stored, except
 * sends that took their id before the store lost data and finished after the
 * re-seed (see RedisSequencer's residual risk): those are in history, and a
 * reader that passed the range before they landed does not get them live.
 * Failures: rejects with DomainError('unavailable').
 */
export interface SkippedIds {
  record(channelId: string, range: IdRange): Promise<void>;
  /** Ranges that hold an id in `afterId + 1 .. beforeId - 1`, ascending. */
  between(channelId: string, afterId: number, beforeId: number): Promise<IdRange[]>;
}
