import type { ClaimResult } from './IdempotencyStore.js';

/** What a send needs before it is stored, asked for in one step. */
export interface SendGateRequest {
  /** The sender's rate-limit bucket (RateLimiter.take's key), its rate and burst. */
  rateKey: string;
  perSecond: number;
  burst: number;
  /** The idempotency key (IdempotencyStore.claim's key) and the record's TTL. */
  claimKey: string;
  ttlMs: number;
  /** The channel whose next id a clean claim takes. */
  channelId: string;
  /** The client says it never sent this client_msg_id before: an `unvouched` claim needs no look in storage, so it takes an id too. */
  firstAttempt: boolean;
}

export type SendGateResult =
  /** Over the rate limit: nothing was claimed and no id was taken. */
  | { wait: number }
  /** Someone else holds the claim: nothing was taken here; claim through the IdempotencyStore (it waits for the other send). */
  | { pending: true }
  /**
   * The claim, as IdempotencyStore.claim answers it. `id` is the channel's next id when the claim
   * needs no look in storage (clean, or unvouched on a first attempt) and the counter is valid in
   * the current epoch; otherwise absent (the caller asks the Sequencer, which validates).
   */
  | { claim: ClaimResult; id?: number };

/**
 * The rate-limit token, the idempotency claim and the sequencer's next id of a
 * send, taken atomically in one request instead of three steps (two round
 * trips; in memory, one settled promise instead of three). Optional: where
 * the three live apart (the keys of a Redis Cluster are in different slots),
 * the use case calls RateLimiter, IdempotencyStore and Sequencer in turn. An id is
 * taken only for a send that will store a message under it, so a refused or
 * repeated send never leaves a gap.
 */
export interface SendGate {
  admit(req: SendGateRequest): Promise<SendGateResult>;
}
