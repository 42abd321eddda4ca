import type { ClaimResult, IdempotencyStore } from '../../ports/IdempotencyStore.js';

type Done = { channelId: string; messageId: number; expiresAt: number };

const CLAIMED: ClaimResult = Object.freeze({ status: 'claimed' });

/**
 * client_msg_id records in process memory. Claims in progress are kept apart
 * from completed records, and completed records in two generations: when the
 * current one is a TTL old it becomes the previous one, and the previous one
 * is dropped whole. A record is therefore kept at least its TTL and at most
 * twice that, with no sweep and no allocation per claim (an incremental
 * sweep through a Map iterator cost two objects per entry looked at), and no
 * full scan, which with millions of records would stall the event loop.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  /** Claims in progress, with the claims waiting for them. */
  private readonly pending = new Map<string, Array<() => void> | undefined>();
  private current = new Map<string, Done>();
  private previous = new Map<string, Done>();
  private rotatedAt = Date.now();

  async claim(key: string, _ttlMs: number): Promise<ClaimResult> {
    for (;;) {
      const claim = this.tryClaim(key);
      if (claim) return claim;
      await new Promise<void>((resolve) => {
        const waiters = this.pending.get(key);
        if (waiters) waiters.push(resolve);
        else this.pending.set(key, [resolve]);
      });
    }
  }

  /** `claim` without waiting: undefined while another attempt holds the key (the send gate's second step). */
  tryClaim(key: string): ClaimResult | undefined {
    if (this.pending.has(key)) return undefined;
    const done = this.current.get(key) ?? this.previous.get(key);
    if (done && done.expiresAt >= Date.now()) return { status: 'done', channelId: done.channelId, messageId: done.messageId };
    this.pending.set(key, undefined);
    return CLAIMED;
  }

  async complete(key: string, channelId: string, messageId: number, ttlMs: number) {
    const now = Date.now();
    if (now - this.rotatedAt >= ttlMs) {
      this.previous = this.current;
      this.current = new Map();
      this.rotatedAt = now;
    }
    this.previous.delete(key);
    this.current.set(key, { channelId, messageId, expiresAt: now + ttlMs });
    this.wake(key);
  }

  async release(key: string) {
    this.current.delete(key);
    this.previous.delete(key);
    this.wake(key);
  }

  /** Records held: completed ones (some expired, until their generation goes) and claims in progress. */
  get size() {
    return this.current.size + this.previous.size + this.pending.size;
  }

  private wake(key: string) {
    const waiters = this.pending.get(key);
    this.pending.delete(key);
    waiters?.forEach((w) => w());
  }
}
