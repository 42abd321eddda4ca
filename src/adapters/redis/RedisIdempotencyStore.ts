import type { Redis } from 'ioredis';
import { unavailable } from '../../domain/errors.js';
import type { ClaimResult, IdempotencyStore } from '../../ports/IdempotencyStore.js';
import { guard, luaCommand, type LuaCommand } from './connect.js';

/** A claim neither completed nor released within this time was abandoned (its node died mid-send). */
const ABANDONED_MS = 10_000;
const WAIT_MS = 5_000;

/**
 * Returns 'claimed', 'recovered' (took over an abandoned claim), 'pending'
 * (someone else is sending it), or the completed record 'done:<ch>:<id>'.
 * Pending markers are 'pending:<owner>:<since ms>'.
 */
const CLAIM = `
local v = redis.call('GET', KEYS[1])
local now = tonumber(ARGV[2])
if not v then
  redis.call('SET', KEYS[1], 'pending:' .. ARGV[1] .. ':' .. now, 'PX', ARGV[3])
  return 'claimed'
end
if string.sub(v, 1, 5) == 'done:' then return v end
local since = tonumber(string.match(v, ':(%d+)$') or '0')
if now - since > tonumber(ARGV[4]) then
  redis.call('SET', KEYS[1], 'pending:' .. ARGV[1] .. ':' .. now, 'PX', ARGV[3])
  return 'recovered'
end
return 'pending'`;

/** Delete only if still our pending marker, so a late release never erases a completed record. */
const RELEASE = `local v = redis.call('GET', KEYS[1]) if v and string.find(v, 'pending:' .. ARGV[1] .. ':', 1, true) == 1 then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * client_msg_id records shared by all nodes. A Lua script claims a key with a
 * pending marker (owner + time); completion overwrites it with
 * `done:<channel>:<id>`. A claim that finds a live pending marker polls until
 * it resolves or WAIT_MS passes (then UNAVAILABLE: retry with the same id); a
 * marker older than ABANDONED_MS is taken over and reported as `recovered`.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly owner = Math.random().toString(36).slice(2, 10);
  private readonly claimScript: LuaCommand;
  private readonly releaseScript: LuaCommand;

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'chat:',
  ) {
    this.claimScript = luaCommand(redis, 'chatIdemClaim', 1, CLAIM);
    this.releaseScript = luaCommand(redis, 'chatIdemRelease', 1, RELEASE);
  }

  private key(k: string) {
    return `${this.prefix}idem:{${k}}`;
  }

  async claim(key: string, ttlMs: number): Promise<ClaimResult> {
    const deadline = Date.now() + WAIT_MS;
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      const v = String(await guard('claim', this.claimScript(this.key(key), this.owner, Date.now(), ttlMs, ABANDONED_MS)));
      if (v === 'claimed') return { status: 'claimed' };
      if (v === 'recovered') return { status: 'claimed', recovered: true };
      if (v.startsWith('done:')) {
        const [, channelId, id] = v.split(':');
        return { status: 'done', channelId: channelId!, messageId: Number(id) };
      }
      if (Date.now() > deadline) throw unavailable('a send with this client_msg_id is still in progress; retry shortly');
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  async complete(key: string, channelId: string, messageId: number, ttlMs: number) {
    await guard('complete', this.redis.set(this.key(key), `done:${channelId}:${messageId}`, 'PX', ttlMs));
  }

  async release(key: string) {
    await guard('release', this.releaseScript(this.key(key), this.owner));
  }
}
