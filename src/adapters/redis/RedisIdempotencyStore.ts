import { unavailable } from '../../domain/errors.js';
import type { ClaimResult, IdempotencyStore } from '../../ports/IdempotencyStore.js';
import { guard, luaCommand, type LuaCommand, type RedisClient } from './connect.js';
import { partitionOf } from './partition.js';
import { EPOCH } from './epoch.js';

/** A claim neither completed nor released within this time was abandoned (its node died mid-send). */
export const ABANDONED_MS = 10_000;
const WAIT_MS = 5_000;
/** Records are spread over this many slots (hash tags), each with its own continuity marker. */
const PARTITIONS = 256;

/**
 * claim(record, marker, owner, now, ttl, abandoned) (needs EPOCH): the record's
 * key and its partition's continuity marker. Returns 'claimed',
 * 'unvouched' (claimed, but this Redis cannot prove it would still hold a
 * completed record: see the class comment), 'recovered' (took over an
 * abandoned claim), 'pending' (someone else is sending it), or the completed
 * record 'done:<ch>:<id>'. Pending markers are 'pending:<owner>:<since ms>'.
 */
export const CLAIM_FN = `
local function claim(rec, marker, owner, now, ttl, abandoned)
  local v = redis.call('GET', rec)
  if not v then
    redis.call('SET', rec, 'pending:' .. owner .. ':' .. now, 'PX', ttl)
    local t = redis.call('TIME')
    local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local live = epoch()
    local m = redis.call('HMGET', marker, 'e', 'since')
    if m[1] ~= live then
      redis.call('HSET', marker, 'e', live, 'since', string.format('%.0f', ms))
      return 'unvouched'
    end
    if ms - tonumber(m[2]) < tonumber(ttl) then return 'unvouched' end
    return 'claimed'
  end
  if string.sub(v, 1, 5) == 'done:' then return v end
  local since = tonumber(string.match(v, ':(%d+)$') or '0')
  if now - since > tonumber(abandoned) then
    redis.call('SET', rec, 'pending:' .. owner .. ':' .. now, 'PX', ttl)
    return 'recovered'
  end
  return 'pending'
end`;

const CLAIM = `${EPOCH}${CLAIM_FN}
return claim(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4])`;

/** Delete only if still our pending marker, so a late release never erases a completed record. */
const RELEASE = `local v = redis.call('GET', KEYS[1]) if v and string.find(v, 'pending:' .. ARGV[1] .. ':', 1, true) == 1 then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * client_msg_id records shared by all nodes. A Lua script claims a key with a
 * pending marker (owner + time); completion overwrites it with
 * `done:<channel>:<id>`. A claim that finds a live pending marker polls until
 * it resolves or WAIT_MS passes (then UNAVAILABLE: retry with the same id); a
 * marker older than ABANDONED_MS is taken over and reported as `recovered`.
 *
 * Surviving Redis data loss: a missing record proves nothing by itself after
 * a FLUSHALL, a restart without the data, or a failover to a lagging replica.
 * So records live in PARTITIONS hash-tagged partitions (`idem:{i<n>}:<key>`,
 * one slot each in Redis Cluster), and each partition has a continuity marker
 * `idem-since:{i<n>}` = (epoch of the Redis data, Redis time it was set),
 * read by the claim script atomically with the record. A missing record is
 * proof of absence only if the marker carries the live epoch (see EPOCH: it
 * changes on every restart and promotion) and is older than the record TTL:
 * then every record completed in the TTL window would still be there. Else
 * (marker missing after a flush, from another epoch, or younger than the TTL)
 * the claim is `unvouched` and the caller looks in durable storage. Steady
 * state costs one HMGET and the epoch lookup per new claim, no extra round
 * trip; the first TTL after data loss (or after a first start) costs one
 * durable read per send. Requires `maxmemory-policy noeviction` (evicting
 * records under a marker would break the proof; the sequencer needs it too).
 */
/** A record's key and its partition's continuity marker (same hash tag, same slot). */
export function idemKeys(prefix: string, k: string): [string, string] {
  const tag = `{i${partitionOf(k, PARTITIONS)}}`;
  return [`${prefix}idem:${tag}:${k}`, `${prefix}idem-since:${tag}`];
}

export class RedisIdempotencyStore implements IdempotencyStore {
  /** Names this node's pending markers (a release deletes only its own); the send gate claims under it too. */
  readonly owner = Math.random().toString(36).slice(2, 10);
  private readonly claimScript: LuaCommand;
  private readonly releaseScript: LuaCommand;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix = 'chat:',
  ) {
    this.claimScript = luaCommand(redis, 'chatIdemClaim', 2, CLAIM);
    this.releaseScript = luaCommand(redis, 'chatIdemRelease', 1, RELEASE);
  }

  private keys(k: string): [string, string] {
    return idemKeys(this.prefix, k);
  }

  async claim(key: string, ttlMs: number): Promise<ClaimResult> {
    const deadline = Date.now() + WAIT_MS;
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      const v = String(await guard('claim', this.claimScript(...this.keys(key), this.owner, Date.now(), ttlMs, ABANDONED_MS)));
      if (v === 'claimed') return { status: 'claimed' };
      if (v === 'unvouched') return { status: 'claimed', unvouched: true };
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
    await guard('complete', this.redis.set(this.keys(key)[0], `done:${channelId}:${messageId}`, 'PX', ttlMs));
  }

  async release(key: string) {
    await guard('release', this.releaseScript(this.keys(key)[0], this.owner));
  }
}
