import type { PresenceInfo } from '../../domain/model.js';
import type { PresenceStore } from '../../ports/PresenceStore.js';
import { partitionOf } from './partition.js';
import { guard, luaCommand, type LuaCommand, type RedisClient } from './connect.js';

/** Presence partitions (hash tags): enough to spread over any practical number of shards; a sweep visits each once. */
const PARTITIONS = 64;

/*
 * Users are spread over PARTITIONS partitions by a hash of their id; the keys
 * of partition <n> share the hash tag {p<n>}, so each script stays in one slot
 * of a Redis Cluster while presence as a whole spreads over every shard:
 *   {p<n>}:dev:<user>   hash  device -> expiresAt      (liveness per device)
 *   {p<n>}:act:<user>   hash  device -> lastActiveAt
 *   {p<n>}:on           set   users of the partition currently online
 *   {p<n>}:deadlines    zset  user -> latest device expiry
 *   {p<n>}:last         hash  user -> lastActiveAt
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
 * reported to exactly one caller. A user's keys live in one partition (see
 * above): on Redis Cluster each script touches one slot, and the partitions
 * spread presence over all shards. A sweep runs the script once per partition
 * (pipelined); a partition whose shard is failing over is swept next time.
 *
 * Upgrade from the single-tag layout (`{P}:*`, earlier releases): online
 * state rebuilds itself from the next heartbeats; a user's last activity is
 * read from the old `{P}:last` hash until they are seen again.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly touchScript: LuaCommand;
  private readonly sweepScript: LuaCommand;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = 'chat:',
  ) {
    this.touchScript = luaCommand(redis, 'chatPresenceTouch', 5, TOUCH);
    this.sweepScript = luaCommand(redis, 'chatPresenceSweep', 3, SWEEP);
  }

  /** The key prefix of partition `n`. */
  private part(n: number) {
    return `${this.prefix}{p${n}}:`;
  }

  private of(userId: string) {
    return this.part(partitionOf(userId, PARTITIONS));
  }

  async touch(userId: string, deviceId: string, activeAtMs: number, expiresAtMs: number) {
    const p = this.of(userId);
    const added = await guard(
      'presence',
      this.touchScript(`${p}dev:${userId}`, `${p}act:${userId}`, `${p}on`, `${p}deadlines`, `${p}last`, userId, deviceId, activeAtMs, expiresAtMs),
    );
    return { cameOnline: Number(added) === 1 };
  }

  async sweep(nowMs: number): Promise<PresenceInfo[]> {
    const parts = Array.from({ length: PARTITIONS }, (_, n) => this.part(n));
    const results = await Promise.allSettled(parts.map((p) => this.sweepScript(`${p}deadlines`, `${p}on`, `${p}last`, nowMs, p) as Promise<string[]>));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed && results.every((r) => r.status === 'rejected')) await guard('presence sweep', Promise.reject(failed.reason));
    const out: PresenceInfo[] = [];
    for (const r of results) {
      if (r.status !== 'fulfilled') continue;
      const flat = r.value;
      for (let i = 0; i < flat.length; i += 2) out.push({ userId: flat[i]!, online: false, lastActiveAtMs: Number(flat[i + 1]) });
    }
    return out;
  }

  async get(userIds: string[]): Promise<PresenceInfo[]> {
    if (userIds.length === 0) return [];
    const one = async (userId: string): Promise<PresenceInfo> => {
      const p = this.of(userId);
      const [online, last] = await Promise.all([this.redis.sismember(`${p}on`, userId), this.redis.hget(`${p}last`, userId)]);
      return { userId, online: online === 1, lastActiveAtMs: Number(last ?? 0) };
    };
    const out = await guard('presence', Promise.all(userIds.map(one)));
    const unseen = out.filter((p) => p.lastActiveAtMs === 0);
    if (unseen.length) {
      const legacy = await guard('presence', this.redis.hmget(`${this.prefix}{P}:last`, ...unseen.map((p) => p.userId)));
      unseen.forEach((p, i) => void (p.lastActiveAtMs = Number(legacy[i] ?? 0)));
    }
    return out;
  }

  async devices(userId: string, nowMs: number) {
    const p = this.of(userId);
    const [exp, act] = await guard('presence', Promise.all([this.redis.hgetall(`${p}dev:${userId}`), this.redis.hgetall(`${p}act:${userId}`)]));
    const out = new Map<string, { online: boolean; lastActiveAtMs: number }>();
    for (const [device, e] of Object.entries(exp)) out.set(device, { online: Number(e) > nowMs, lastActiveAtMs: Number(act[device] ?? 0) });
    return out;
  }
}
