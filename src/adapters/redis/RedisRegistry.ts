import type { Membership, SelfInfo } from '../../ports/Registry.js';
import { type NodeLoad, Placement } from '../../domain/placement.js';
import type { RedisClient } from './connect.js';

type NodeRecord = NodeLoad;

/**
 * Cluster membership in Redis, for deployments without Consul: each node
 * refreshes its record every `intervalMs` with an expiry of three intervals,
 * and keeps a local view of live nodes that `pick` answers from (never a Redis
 * round trip per request; the last good view survives a Redis outage).
 * Choice: `Placement` (hinted region first, power of two choices on load, counting this node's own recent answers).
 * Every command names one key (`nodes`, `nodes:alive`), so it runs unchanged
 * on a Redis Cluster.
 */
export class RedisRegistry implements Membership {
  /** Counts this node's own recent answers, so a storm over a stale view does not land on one node. */
  private readonly placement = new Placement();
  private view: NodeRecord[] = [];
  private timer?: NodeJS.Timeout;
  private load: () => number = () => 0;
  private left = false;
  private self?: SelfInfo;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = 'chat:',
    private readonly intervalMs = 1000,
  ) {}

  /** Starts heartbeating; `load` reports this node's current connections. */
  async join(self: SelfInfo, load: () => number) {
    this.self = self;
    this.left = false;
    this.load = load;
    await this.tick();
    this.timer = setInterval(() => void this.tick().catch(() => {}), this.intervalMs);
    this.timer.unref();
  }

  async pick(regionHint: string) {
    return this.placement.pick(this.view, regionHint);
  }

  async alternative(nodeId: string) {
    return this.placement.pick(
      this.view.filter((n) => n.nodeId !== nodeId),
      this.self?.region ?? '',
    );
  }

  /** Leaves the cluster view at once (drain), without waiting for expiry; the view stays live until close(). */
  async leave() {
    this.left = true;
    const id = this.self?.nodeId;
    if (id) await Promise.all([this.redis.zrem(`${this.prefix}nodes:alive`, id), this.redis.hdel(`${this.prefix}nodes`, id)]).catch(() => {});
    await this.refresh().catch(() => {});
  }

  async close() {
    if (!this.left) await this.leave();
    clearInterval(this.timer);
  }

  private async tick() {
    const self = this.self;
    if (this.left || !self) return this.refresh();
    const rec: NodeRecord = { ...self, connections: this.load() };
    await Promise.all([
      this.redis.hset(`${this.prefix}nodes`, self.nodeId, JSON.stringify(rec)),
      this.redis.zadd(`${this.prefix}nodes:alive`, Date.now() + 3 * this.intervalMs, self.nodeId),
    ]);
    await this.refresh();
  }

  private async refresh() {
    const ids = await this.redis.zrangebyscore(`${this.prefix}nodes:alive`, Date.now(), '+inf');
    if (ids.length === 0) {
      this.view = [];
      return;
    }
    const recs = await this.redis.hmget(`${this.prefix}nodes`, ...ids);
    this.view = recs.flatMap((r) => (r ? [JSON.parse(r) as NodeRecord] : []));
  }
}
