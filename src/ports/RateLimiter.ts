/**
 * Token buckets shared by every node (so a limit holds across the cluster).
 * `take` removes one token from the bucket named `key` (capacity `burst`,
 * refilled at `perSecond`) and answers 0 when it was allowed, else how many
 * milliseconds until a token will be there. Buckets left alone expire.
 * Failures: a backend outage rejects with DomainError('unavailable').
 */
export interface RateLimiter {
  take(key: string, perSecond: number, burst: number): Promise<number>;
}
