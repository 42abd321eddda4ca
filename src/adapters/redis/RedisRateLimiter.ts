import type { RateLimiter } from '../../ports/RateLimiter.js';
import { guard, luaCommand, type LuaCommand, type RedisClient } from './connect.js';

/* One bucket per key: a hash {tokens, at}; time from the Redis server so nodes agree. */
const TAKE = `
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait`;

/** Cluster-wide token buckets in Redis (one Lua script per take: atomic, one round trip). */
export class RedisRateLimiter implements RateLimiter {
  private readonly takeScript: LuaCommand;

  constructor(
    redis: RedisClient,
    private readonly prefix = 'chat:',
  ) {
    this.takeScript = luaCommand(redis, 'chatRateTake', 1, TAKE);
  }

  async take(key: string, perSecond: number, burst: number): Promise<number> {
    return Number(await guard('rate limit', this.takeScript(`${this.prefix}rl:{${key}}`, perSecond, burst)));
  }
}
