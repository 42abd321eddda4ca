import type { RateLimiter } from '../ports/RateLimiter.js';
import type { Logger } from './logger.js';
import type { EphemeralCounts } from './deps.js';

/** Marks waiting for their user's bucket to refill, node-wide; past this, new keys are dropped. */
const DEFERRED_MAX = 10_000;
/** Local buckets kept before full ones are pruned. */
const LOCAL_MAX = 100_000;

export interface EphemeralRates {
  typingRatePerSec: number;
  typingBurst: number;
  markRatePerSec: number;
  markBurst: number;
}

export type EphemeralKind = 'typing' | 'read' | 'ack';

/** Token buckets in this process, answered synchronously: a flood is refused without a round trip. */
export class LocalBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** 0 when a token was taken, else the milliseconds until one is there. */
  take(key: string, perSecond: number, burst: number, now = Date.now()): number {
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    if (!this.buckets.has(key) && this.buckets.size >= LOCAL_MAX) this.prune(now, perSecond, burst);
    this.buckets.set(key, b);
    if (b.tokens < 1) return Math.ceil(((1 - b.tokens) / perSecond) * 1000);
    b.tokens -= 1;
    return 0;
  }

  private prune(now: number, perSecond: number, burst: number) {
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * perSecond >= burst) this.buckets.delete(k);
  }
}

/**
 * Per-user rates of typing and read/delivery marks. The local bucket of the
 * user on this node answers first, so a flood costs nothing but a map lookup;
 * what passes it takes from the cluster-wide RateLimiter bucket of the same
 * rate (Redis on the production stack), so the limit holds across nodes.
 * Marks over the limit are not refused: only the latest one per key is kept
 * and applied when the user's bucket has refilled.
 */
export class EphemeralLimits {
  private readonly local = new LocalBuckets();
  private readonly deferred = new Map<string, { value: unknown; timer: NodeJS.Timeout }>();

  constructor(
    private readonly limiter: RateLimiter,
    private readonly rates: EphemeralRates,
    private readonly log: Logger,
    private readonly counts: EphemeralCounts,
  ) {}

  /** 0 when the user may send one more signal of this kind now, else how many milliseconds until they may. */
  async take(kind: EphemeralKind, userId: string): Promise<number> {
    const [perSecond, burst] = kind === 'typing' ? [this.rates.typingRatePerSec, this.rates.typingBurst] : [this.rates.markRatePerSec, this.rates.markBurst];
    const key = `${kind}:${userId}`;
    const wait = this.local.take(key, perSecond, burst);
    if (wait > 0) return wait;
    return this.limiter.take(key, perSecond, burst);
  }

  /**
   * Keeps `value` to be applied after `waitMs`, merged with (`merge`) any
   * value already waiting under `key`: only the latest state is applied.
   */
  defer<T>(key: string, waitMs: number, value: T, merge: (older: T, newer: T) => T, apply: (v: T) => Promise<void>) {
    this.counts.ephemeralLimited++;
    const waiting = this.deferred.get(key);
    if (waiting) {
      waiting.value = merge(waiting.value as T, value);
      return;
    }
    if (this.deferred.size >= DEFERRED_MAX) return;
    const entry = { value: value as unknown, timer: undefined as unknown as NodeJS.Timeout };
    entry.timer = setTimeout(() => {
      this.deferred.delete(key);
      apply(entry.value as T).catch((e) => this.log.debug({ err: String(e), key }, 'deferred mark not applied'));
    }, waitMs);
    entry.timer.unref();
    this.deferred.set(key, entry);
  }

  /** Marks still waiting (tests and shutdown). */
  pending() {
    return this.deferred.size;
  }
}
