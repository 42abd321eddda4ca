import type { RateLimiter } from '../../ports/RateLimiter.js';
import { guard, luaCommand, type LuaCommand, type RedisClient } from './connect.js';

/* One bucket per key: a hash {tokens, at}; time from the Redis server so nodes agree. Returns the wait in ms (0: taken). */
export const RATE_TAKE_FN = `
local function rate_take(key, rate, burst)
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  local b = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(b[1]) or burst
  local at = tonumber(b[2]) or now
  tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
  local wait = 0
  if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
  redis.call('HSET', key, 'tokens', tokens, 'at', now)
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
  return wait
end`;

const TAKE = `${RATE_TAKE_FN}
return rate_take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))`;

/** The bucket's key (hash-tagged: one slot in Redis Cluster). */
export const rateKey = (prefix: string, key: string) => `${prefix}rl:{${key}}`;

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
    return Number(await guard('rate limit', this.takeScript(rateKey(this.prefix, key), perSecond, burst)));
  }
}
