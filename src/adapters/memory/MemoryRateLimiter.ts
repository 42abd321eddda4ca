import type { RateLimiter } from '../../ports/RateLimiter.js';

/** Token buckets in process memory (one node), pruned as they fill up again. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  async take(key: string, perSecond: number, burst: number): Promise<number> {
    return this.takeNow(key, perSecond, burst);
  }

  /** `take`, answered at once (the send gate's first step). */
  takeNow(key: string, perSecond: number, burst: number): number {
    const now = Date.now();
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    if (this.buckets.size > 100_000) this.prune(now, perSecond, burst);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      this.buckets.set(key, b);
      return 0;
    }
    this.buckets.set(key, b);
    return Math.ceil(((1 - b.tokens) / perSecond) * 1000);
  }

  private prune(now: number, perSecond: number, burst: number) {
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * perSecond >= burst) this.buckets.delete(k);
  }
}
