import type { Redis } from 'ioredis';
import type { NodeInfo, Registry } from '../../ports/Registry.js';

interface NodeRecord extends NodeInfo {
  connections: number;
  capacity: number;
}

/**
 * Cluster membership in Redis, for deployments without Consul: each node
 * refreshes its record every `intervalMs` with an expiry of three intervals,
 * and keeps a local view of live nodes that `pick` answers from (never a Redis
 * round trip per request; the last good view survives a Redis outage).
 * Choice: same region first, then the lowest connections/capacity ratio.
 */
export class RedisRegistry implements Registry {
  private view: NodeRecord[] = [];
  private timer?: NodeJS.Timeout;
  private load: () => number = () => 0;
  private left = false;

  constructor(
    private readonly redis: Redis,
    private readonly self: NodeInfo & { capacity: number },
    private readonly prefix = 'chat:',
    private readonly intervalMs = 1000,
  ) {}

  /** Starts heartbeating; `load` reports this node's current connections. */
  async start(load: () => number) {
    this.load = load;
    await this.tick();
    this.timer = setInterval(() => void this.tick().catch(() => {}), this.intervalMs);
    this.timer.unref();
  }

  async pick(regionHint: string) {
    return best(this.view, regionHint);
  }

  async alternative(nodeId: string) {
    return best(this.view.filter((n) => n.nodeId !== nodeId), this.self.region);
  }

  /** Leaves the cluster view at once (drain), without waiting for expiry. */
  async deregister() {
    this.left = true;
    clearInterval(this.timer);
    await Promise.all([this.redis.zrem(`${this.prefix}nodes:alive`, this.self.nodeId), this.redis.hdel(`${this.prefix}nodes`, this.self.nodeId)]).catch(() => {});
    await this.refresh().catch(() => {});
  }

  async close() {
    if (!this.left) await this.deregister();
  }

  private async tick() {
    if (this.left) return;
    const rec: NodeRecord = { ...this.self, connections: this.load() };
    await Promise.all([
      this.redis.hset(`${this.prefix}nodes`, this.self.nodeId, JSON.stringify(rec)),
      this.redis.zadd(`${this.prefix}nodes:alive`, Date.now() + 3 * this.intervalMs, this.self.nodeId),
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

function best(nodes: NodeRecord[], region: string): NodeInfo | undefined {
  const ratio = (n: NodeRecord) => n.connections / Math.max(1, n.capacity);
  const sorted = [...nodes].sort((a, b) => Number(b.region === region) - Number(a.region === region) || ratio(a) - ratio(b) || a.nodeId.localeCompare(b.nodeId));
  const n = sorted[0];
  return n && { nodeId: n.nodeId, address: n.address, region: n.region };
}
