import type { Redis } from 'ioredis';
import type { Sequencer } from '../../ports/Sequencer.js';
import { guard } from './connect.js';

/** INCR only if the counter exists; -1 tells the caller to seed it first. */
const NEXT = `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) else return -1 end`;
/** Raise the counter to at least ARGV[1] (never lowers it). */
const RAISE = `local v = tonumber(redis.call('GET', KEYS[1]) or '0') if v < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end return 1`;

/**
 * Per-channel ids from Redis INCR on `seq:{<channel>}` (hash-tagged, so one
 * key per slot in Redis Cluster).
 *
 * Redis may lose counters (restart without persistence, FLUSHALL, failover).
 * A missing counter is re-seeded from the highest id in durable history plus
 * `margin`, which covers ids that were taken but not yet stored when the data
 * was lost; ids then keep increasing and stored history is never reused. If a
 * counter comes back *lower* than history (a lagging replica), the message
 * store refuses the taken id and `resync` raises the counter the same way.
 */
export class RedisSequencer implements Sequencer {
  constructor(
    private readonly redis: Redis,
    private readonly durableMax: (channelId: string) => Promise<number>,
    private readonly prefix = 'chat:',
    private readonly margin = 1000,
  ) {}

  private key(channelId: string) {
    return `${this.prefix}seq:{${channelId}}`;
  }

  async next(channelId: string): Promise<number> {
    const key = this.key(channelId);
    for (let i = 0; i < 3; i++) {
      const id = Number(await guard('next id', this.redis.eval(NEXT, 1, key)));
      if (id > 0) return id;
      await this.seed(channelId);
    }
    return Number(await guard('next id', this.redis.incr(key)));
  }

  async current(channelId: string): Promise<number> {
    const v = await guard('current id', this.redis.get(this.key(channelId)));
    return v === null ? this.durableMax(channelId) : Number(v);
  }

  async resync(channelId: string): Promise<void> {
    const max = await this.durableMax(channelId);
    await guard('resync', this.redis.eval(RAISE, 1, this.key(channelId), String(max + this.margin)));
  }

  private async seed(channelId: string) {
    const max = await this.durableMax(channelId);
    // A channel with history lost its counter: skip past ids that may be in flight.
    const start = max > 0 ? max + this.margin : 0;
    await guard('seed id', this.redis.set(this.key(channelId), String(start), 'NX'));
  }
}
