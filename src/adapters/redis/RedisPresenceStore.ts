import type { Redis } from 'ioredis';
import type { PresenceInfo } from '../../domain/model.js';
import type { PresenceStore } from '../../ports/PresenceStore.js';
import { guard, luaCommand, type LuaCommand } from './connect.js';

/*
 * Keys, all under one hash tag so the scripts stay single-slot on Redis Cluster:
 *   {P}:dev:<user>   hash  device -> expiresAt      (liveness per device)
 *   {P}:act:<user>   hash  device -> lastActiveAt
 *   {P}:on           set   users currently online
 *   {P}:deadlines    zset  user -> latest device expiry
 *   {P}:last         hash  user -> lastActiveAt
 */
const TOUCH = `
local dev, act, on, deadlines, last = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local user, device, activeAt, expiresAt = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local prev = tonumber(redis.call('HGET', dev, device) or '0')
if expiresAt > prev then redis.call('HSET', dev, device, expiresAt) end
local prevAct = tonumber(redis.call('HGET', act, device) or '0')
if activeAt > prevAct then redis.call('HSET', act, device, activeAt) end
local lastAt = tonumber(redis.call('HGET', last, user) or '0')
if activeAt > lastAt then redis.call('HSET', last, user, activeAt) end
local d = tonumber(redis.call('ZSCORE', deadlines, user) or '0')
if expiresAt > d then redis.call('ZADD', deadlines, expiresAt, user) end
return redis.call('SADD', on, user)`;

/* Finds users whose latest deadline passed; re-checks their devices; reports each transition once. */
const SWEEP = `
local deadlines, on, last, prefix = KEYS[1], KEYS[2], KEYS[3], ARGV[2]
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', deadlines, '-inf', now, 'LIMIT', 0, 500)
local out = {}
for _, user in ipairs(due) do
  local dev = prefix .. 'dev:' .. user
  local all = redis.call('HGETALL', dev)
  local maxExp = 0
  for i = 2, #all, 2 do local e = tonumber(all[i]) if e > maxExp then maxExp = e end end
  if maxExp > now then
    redis.call('ZADD', deadlines, maxExp, user)
  else
    redis.call('ZREM', deadlines, user)
    if redis.call('SREM', on, user) == 1 then
      table.insert(out, user)
      table.insert(out, redis.call('HGET', last, user) or '0')
    end
  end
end
return out`;

/**
 * Device liveness in Redis. `touch` and `sweep` are Lua scripts, so with any
 * number of nodes each offline->online and online->offline transition is
 * reported to exactly one caller. All keys share the `{P}` hash tag: simple and
 * correct on Redis Cluster, at the cost of putting presence on one shard.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly p: string;
  private readonly touchScript: LuaCommand;
  private readonly sweepScript: LuaCommand;

  constructor(
    private readonly redis: Redis,
    prefix = 'chat:',
  ) {
    this.p = `${prefix}{P}:`;
    this.touchScript = luaCommand(redis, 'chatPresenceTouch', 5, TOUCH);
    this.sweepScript = luaCommand(redis, 'chatPresenceSweep', 3, SWEEP);
  }

  async touch(userId: string, deviceId: string, activeAtMs: number, expiresAtMs: number) {
    const added = await guard(
      'presence',
      this.touchScript(
        `${this.p}dev:${userId}`,
        `${this.p}act:${userId}`,
        `${this.p}on`,
        `${this.p}deadlines`,
        `${this.p}last`,
        userId,
        deviceId,
        activeAtMs,
        expiresAtMs,
      ),
    );
    return { cameOnline: Number(added) === 1 };
  }

  async sweep(nowMs: number): Promise<PresenceInfo[]> {
    const flat = (await guard('presence sweep', this.sweepScript(`${this.p}deadlines`, `${this.p}on`, `${this.p}last`, nowMs, this.p))) as string[];
    const out: PresenceInfo[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ userId: flat[i]!, online: false, lastActiveAtMs: Number(flat[i + 1]) });
    return out;
  }

  async get(userIds: string[]): Promise<PresenceInfo[]> {
    if (userIds.length === 0) return [];
    const [online, last] = await guard(
      'presence',
      Promise.all([this.redis.smismember(`${this.p}on`, ...userIds), this.redis.hmget(`${this.p}last`, ...userIds)]),
    );
    return userIds.map((userId, i) => ({ userId, online: online[i] === 1, lastActiveAtMs: Number(last[i] ?? 0) }));
  }

  async devices(userId: string, nowMs: number) {
    const [exp, act] = await guard('presence', Promise.all([this.redis.hgetall(`${this.p}dev:${userId}`), this.redis.hgetall(`${this.p}act:${userId}`)]));
    const out = new Map<string, { online: boolean; lastActiveAtMs: number }>();
    for (const [device, e] of Object.entries(exp)) out.set(device, { online: Number(e) > nowMs, lastActiveAtMs: Number(act[device] ?? 0) });
    return out;
  }
}
