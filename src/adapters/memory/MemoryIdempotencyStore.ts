import type { ClaimResult, IdempotencyStore } from '../../ports/IdempotencyStore.js';

type Entry = { state: 'pending'; waiters?: Array<() => void> } | { state: 'done'; channelId: string; messageId: number; expiresAt: number };

/** Entries looked at per claim by the incremental sweep. */
const SWEEP_STEP = 4;

/**
 * client_msg_id records in process memory. Expired records are dropped
 * lazily on lookup and by an incremental sweep that looks at a few of the
 * oldest entries on every claim (a Map iterates in insertion order, close to
 * expiry order since the TTL is the same for all): no periodic full scan,
 * which with millions of records would stall the event loop.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private sweeper = this.entries.entries();

  async claim(key: string, _ttlMs: number): Promise<ClaimResult> {
    this.sweep();
    for (;;) {
      const e = this.entries.get(key);
      if (!e || (e.state === 'done' && e.expiresAt < Date.now())) {
        this.entries.set(key, { state: 'pending' });
        return { status: 'claimed' };
      }
      if (e.state === 'done') return { status: 'done', channelId: e.channelId, messageId: e.messageId };
      await new Promise<void>((resolve) => (e.waiters ??= []).push(resolve));
    }
  }

  async complete(key: string, channelId: string, messageId: number, ttlMs: number) {
    const e = this.entries.get(key);
    this.entries.set(key, { state: 'done', channelId, messageId, expiresAt: Date.now() + ttlMs });
    if (e?.state === 'pending') e.waiters?.forEach((w) => w());
  }

  async release(key: string) {
    const e = this.entries.get(key);
    this.entries.delete(key);
    if (e?.state === 'pending') e.waiters?.forEach((w) => w());
  }

  private sweep() {
    const now = Date.now();
    for (let i = 0; i < SWEEP_STEP; i++) {
      const next = this.sweeper.next();
      if (next.done) {
        this.sweeper = this.entries.entries();
        return;
      }
      const [key, e] = next.value;
      if (e.state === 'done' && e.expiresAt < now) this.entries.delete(key);
    }
  }
}
