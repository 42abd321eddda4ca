/**
 * Records which client_msg_id produced which message, shared by all nodes.
 * Protocol: `claim` the key before taking an id; `complete` it after the
 * message is durable; `release` it if the send failed so a retry can succeed.
 * Guarantees: of concurrent claims of one key exactly one gets `claimed`; the
 * others wait for that one to complete (then get `done`) or be released (then
 * one of them gets `claimed`). A claim neither completed nor released within
 * a bounded time is abandoned and can be recovered (`recovered: true`). A
 * completed record lives at least `ttlMs`, unless the store lost data: then
 * a claim says so (`unvouched: true`) until `ttlMs` has passed since.
 */
export type ClaimResult =
  /**
   * `recovered`: the key was held by a claim that was abandoned (its node died
   * mid-send). That send may have stored its message before dying, so the
   * caller must look in durable storage before taking a new id.
   */
  | {
      status: 'claimed';
      recovered?: boolean;
      /**
       * The store cannot vouch that it would hold a completed record for this
       * key: it may have lost data (a flush, a restart without it, a failover)
       * within the last `ttlMs`. Like `recovered`, the caller must look in
       * durable storage before taking a new id. Absent in steady state.
       */
      unvouched?: boolean;
    }
  | { status: 'done'; channelId: string; messageId: number };

export interface IdempotencyStore {
  claim(key: string, ttlMs: number): Promise<ClaimResult>;
  complete(key: string, channelId: string, messageId: number, ttlMs: number): Promise<void>;
  release(key: string): Promise<void>;
}
