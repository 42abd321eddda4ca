import type { ClaimResult, IdempotencyStore } from '../../ports/IdempotencyStore.js';

type Entry =
  | { state: 'pending'; waiters: Array<() => void> }
  | { state: 'done'; channelId: string; messageId: number; expiresAt: number };

/** client_msg_id records in process memory, expired lazily and by a periodic prune. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private lastPrune = Date.now();

  async claim(key: string, ttlMs: number): Promise<ClaimResult> {
    this.prune();
    for (;;) {
      const e = this.entries.get(key);
      if (!e || (e.state === 'done' && e.expiresAt < Date.now())) {
        this.entries.set(key, { state: 'pending', waiters: [] });
        return { status: 'claimed' };
      }
      if (e.state === 'done') return { status: 'done', channelId: e.channelId, messageId: e.messageId };
      await new Promise<void>((resolve) => e.waiters.push(resolve));
    }
  }

  async complete(key: string, channelId: string, messageId: number, ttlMs: number) {
    const e = this.entries.get(key);
    this.entries.set(key, { state: 'done', channelId, messageId, expiresAt: Date.now() + ttlMs });
    if (e?.state === 'pending') e.waiters.forEach((w) => w());
  }

  async release(key: string) {
    const e = this.entries.get(key);
    this.entries.delete(key);
    if (e?.state === 'pending') e.waiters.forEach((w) => w());
  }

  private prune() {
    const now = Date.now();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    for (const [k, e] of this.entries) if (e.state === 'done' && e.expiresAt < now) this.entries.delete(k);
  }
}
