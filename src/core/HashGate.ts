import { exhausted } from '../domain/errors.js';

export interface HashGateOptions {
  /** Hashes computed at once (each takes a libuv thread and, at cost 15, 32 MiB). */
  concurrency: number;
  /** Hashes allowed to wait for a turn; beyond it a call is refused at once. */
  queue: number;
}

/**
 * Bounds the CPU that unauthenticated calls can spend on password hashing.
 * At most `concurrency` hashes run; at most `queue` wait, in arrival order;
 * one client address holds at most `concurrency` of those places, so a single
 * address cannot fill the queue. Anything beyond is refused with
 * RESOURCE_EXHAUSTED and a retry hint (`retryAfterMs`) from the recent hash
 * duration, instead of piling up work that would starve every other call.
 */
export class HashGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly perKey = new Map<string, number>();
  /** Moving average of one hash's duration, for the retry hint. */
  private avgMs = 100;
  refused = 0;

  constructor(private readonly opts: HashGateOptions) {}

  /** Runs `fn` when a slot is free; `key` is the caller's address. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const held = this.perKey.get(key) ?? 0;
    if (held >= this.opts.concurrency || this.waiting.length >= this.opts.queue) {
      this.refused++;
      const wait = Math.ceil(this.avgMs * (1 + (this.waiting.length + this.running) / this.opts.concurrency));
      throw exhausted(`the server is busy checking passwords; retry in ${wait} ms`, wait);
    }
    this.perKey.set(key, held + 1);
    try {
      // A finishing hash hands its slot straight to the next in line, so `running` never overshoots.
      if (this.running < this.opts.concurrency) this.running++;
      else await new Promise<void>((r) => this.waiting.push(r));
      const started = performance.now();
      try {
        return await fn();
      } finally {
        this.avgMs = this.avgMs * 0.8 + (performance.now() - started) * 0.2;
        const next = this.waiting.shift();
        if (next) next();
        else this.running--;
      }
    } finally {
      const n = (this.perKey.get(key) ?? 1) - 1;
      if (n > 0) this.perKey.set(key, n);
      else this.perKey.delete(key);
    }
  }

  /** Hashes running plus waiting (for tests and metrics). */
  get pending(): number {
    return this.running + this.waiting.length;
  }
}
