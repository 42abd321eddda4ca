/**
 * Per-node cache of each device's token generation, so the check that a
 * token was not revoked costs no store read on the hot path: a hit answers
 * synchronously. A miss is read from the store, one read per device at a time.
 * Revocations reach every node as a fan-out event (`raise`), which takes
 * effect at once; an entry is trusted for `ttlMs` (the bound if the broker
 * lost the event), and `clear` drops everything after a broker reset.
 * Generations only go up: a read that started before a revocation cannot
 * lower what the revocation raised.
 */
export class DeviceGens {
  private readonly entries = new Map<string, { gen: number; until: number }>();
  private readonly loading = new Map<string, Promise<number>>();

  constructor(
    private readonly load: (userId: string, deviceId: string) => Promise<number>,
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly max = 100_000,
  ) {}

  /** The device's generation: a number on a cache hit, a promise on a miss. */
  current(userId: string, deviceId: string): number | Promise<number> {
    const key = `${userId}/${deviceId}`;
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) return hit.gen;
    let p = this.loading.get(key);
    if (!p) {
      p = this.load(userId, deviceId)
        .then((gen) => this.set(key, gen))
        .finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  /** A revocation seen (here or from another node): tokens below `gen` are refused from now on. */
  raise(userId: string, deviceId: string, gen: number) {
    this.set(`${userId}/${deviceId}`, gen);
  }

  /** Cached generation without reading the store (undefined when unknown). */
  peek(userId: string, deviceId: string): number | undefined {
    return this.entries.get(`${userId}/${deviceId}`)?.gen;
  }

  clear() {
    this.entries.clear();
  }

  private set(key: string, gen: number): number {
    const old = this.entries.get(key);
    const g = Math.max(gen, old?.gen ?? 0);
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { gen: g, until: this.now() + this.ttlMs });
    return g;
  }
}
