import { BLOCKS_TOPIC } from '../domain/events.js';
import type { Fanout } from '../ports/Fanout.js';
import type { SafetyStore } from '../ports/SafetyStore.js';

/** Users whose lists a node keeps at most; past this the oldest go first. */
const MAX_ENTRIES = 100_000;
const NOTHING_HIDDEN: ReadonlySet<string> = new Set();

/**
 * Per node, for each user: the users they blocked and the users who blocked
 * them (one set: either way hides the two from each other). The send path
 * asks it for every direct message, so it is read from the store once and
 * kept: a block or unblock made through any node drops the two users' entries
 * on every node at once (a `blocksChanged` event on the `blocks` topic), a
 * broker reset drops all, and `ttlMs` bounds a lost invalidation.
 */
export class BlockCache {
  private readonly entries = new Map<string, { hidden: ReadonlySet<string>; until: number }>();
  /** Bumped by every invalidation, so a read that started before it is not cached after it. */
  private generation = 0;

  constructor(
    private readonly store: SafetyStore,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  /** Users hidden from `userId` and from whom `userId` is hidden (either blocked the other). */
  async hiddenFrom(userId: string): Promise<ReadonlySet<string>> {
    const hit = this.peek(userId);
    if (hit) return hit;
    const gen = this.generation;
    const lists = await this.store.blocks(userId);
    // Most users block nobody: they share one empty set (a session holds its user's set while connected).
    const hidden: ReadonlySet<string> =
      lists.blocked.length || lists.blockers.length ? new Set([...lists.blocked.map((b) => b.userId), ...lists.blockers]) : NOTHING_HIDDEN;
    if (gen === this.generation && this.ttlMs > 0) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(userId, { hidden, until: this.now() + this.ttlMs });
    }
    return hidden;
  }

  /** The cached set of `hiddenFrom(userId)` if it is still valid, without waiting (the send path's fast lane). */
  peek(userId: string): ReadonlySet<string> | undefined {
    const hit = this.entries.get(userId);
    return hit && hit.until > this.now() ? hit.hidden : undefined;
  }

  /** True when either user blocked the other. */
  async between(a: string, b: string): Promise<boolean> {
    return (await this.hiddenFrom(a)).has(b);
  }

  forget(userIds: string[]) {
    this.generation++;
    for (const u of userIds) this.entries.delete(u);
  }

  clear() {
    this.generation++;
    this.entries.clear();
  }

  /** Wires the cache to the fan-out; returns the release. */
  listen(fanout: Fanout): () => void {
    const sub = fanout.subscribe(BLOCKS_TOPIC, (ev) => {
      if (ev.type === 'blocksChanged') this.forget(ev.userIds);
    });
    const unreset = fanout.onReset(() => this.clear());
    return () => {
      sub.off();
      unreset();
    };
  }
}
