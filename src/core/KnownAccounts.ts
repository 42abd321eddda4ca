import type { AccountStore } from '../ports/AccountStore.js';

/**
 * Which user ids have an account, so that a token for an account that no
 * longer exists is refused without a database read on every call. A user id
 * seen to exist is trusted for `ttlMs` (the longest a deleted account's token
 * keeps working on a node that did not delete it); `forget` drops it at once.
 * Misses are read from the store, one read per id at a time, and not cached.
 * At most `max` ids are kept (the oldest go first).
 */
export class KnownAccounts {
  private readonly known = new Map<string, number>();
  private readonly loading = new Map<string, Promise<boolean>>();

  constructor(
    private readonly accounts: AccountStore,
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly max = 100_000,
  ) {}

  /** True when the account is known to exist right now, without waiting (false means: ask `exists`). */
  knownNow(userId: string): boolean {
    const until = this.known.get(userId);
    return until !== undefined && until > this.now();
  }

  async exists(userId: string): Promise<boolean> {
    if (this.knownNow(userId)) return true;
    let p = this.loading.get(userId);
    if (!p) {
      p = this.accounts
        .byId(userId)
        .then((a) => {
          if (a) this.remember(userId);
          else this.known.delete(userId);
          return a !== undefined;
        })
        .finally(() => this.loading.delete(userId));
      this.loading.set(userId, p);
    }
    return p;
  }

  remember(userId: string) {
    this.known.delete(userId);
    if (this.known.size >= this.max) this.known.delete(this.known.keys().next().value!);
    this.known.set(userId, this.now() + this.ttlMs);
  }

  forget(userId: string) {
    this.known.delete(userId);
  }
}
