import { unavailable } from '../../domain/errors.js';
import type { Sequencer } from '../../ports/Sequencer.js';
import type { IdRange } from '../../ports/SkippedIds.js';
import { guard, luaCommand, type LuaCommand, type RedisClient } from './connect.js';
import { EPOCH } from './epoch.js';

/**
 * seq_next(key) (needs EPOCH): HINCRBY the counter if it was validated in the current epoch; -1 otherwise
 * (missing key, another epoch, or a plain string counter of an older release).
 */
export const SEQ_NEXT_FN = `
local function seq_next(key)
  local v = redis.pcall('HMGET', key, 'n', 'e')
  if v.err or not v[1] or v[2] ~= epoch() then return -1 end
  return redis.call('HINCRBY', key, 'n', 1)
end`;

const NEXT = `${EPOCH}${SEQ_NEXT_FN}
return seq_next(KEYS[1])`;

/** A channel's counter (hash-tagged: one slot in Redis Cluster). */
export const seqKey = (prefix: string, channelId: string) => `${prefix}seq:{${channelId}}`;

/**
 * Makes the counter valid in the current epoch. ARGV: durable max, margin.
 * Already valid (another node got here first): 0. Missing: history + margin,
 * even for a channel without history (a new channel's counter is created at
 * 0 by OPEN, so a missing one was lost, and its first ids may be in flight).
 * From another epoch: the counter may have gone back, so
 * max(counter, history + margin); never lower. Returns {1, from, to}: ids
 * from + 1 .. to were passed over (from = the highest id the counter or
 * history knew of).
 */
const VALIDATE = `${EPOCH}
local live = epoch()
local max, margin = tonumber(ARGV[1]), tonumber(ARGV[2])
local kind = redis.call('TYPE', KEYS[1]).ok
local seen = 0
if kind == 'hash' then
  if redis.call('HGET', KEYS[1], 'e') == live then return 0 end
  seen = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
elseif kind == 'string' then
  seen = tonumber(redis.call('GET', KEYS[1])) or 0
  redis.call('DEL', KEYS[1])
elseif kind ~= 'none' then
  error('sequence key ' .. KEYS[1] .. ' holds a ' .. kind)
end
local n = math.max(seen, max + margin)
redis.call('HSET', KEYS[1], 'n', string.format('%.0f', n), 'e', live)
return {1, string.format('%.0f', math.max(seen, max)), string.format('%.0f', n)}`;

/** Creates the counter of a new channel at 0 in the live epoch; an existing counter is left alone. */
const OPEN = `${EPOCH}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'n', '0', 'e', epoch())
return 1`;

/** {counter, 1 if valid in this epoch else 0}; a missing counter reads as 0. */
const CURRENT = `${EPOCH}
local v = redis.pcall('HMGET', KEYS[1], 'n', 'e')
if v.err then return {tostring(redis.call('GET', KEYS[1]) or '0'), 0} end
if not v[1] then return {'0', 0} end
if v[2] == epoch() then return {v[1], 1} end
return {v[1], 0}`;

/**
 * Per-channel ids from a Redis hash `seq:{<channel>}` (hash-tagged, so one key
 * per slot in Redis Cluster): `n` is the counter, `e` the epoch of the Redis
 * data (see EPOCH) under which `n` was last checked against durable history.
 *
 * `next` increments `n` only while `e` is the live epoch. A counter Redis
 * cannot vouch for (the key is missing after FLUSHALL or a restart without
 * persistence; or it comes from another epoch: a restart from an older
 * RDB/AOF, a failover to a lagging replica) is validated first: set to at
 * least the highest stored id (`durableMax`) + `margin`, never lowered, and
 * stamped with the live epoch; then `next` is retried. The ids passed over
 * are reported to `onSkip` (recorded durably, see SkippedIds) so that
 * readers deliver past them at once. So an id is never
 * issued twice, and the message store needs no lightweight transaction: its
 * append is a plain write. Validation costs one `durableMax` read per channel
 * per epoch change (concurrent callers on one node share it).
 *
 * A new channel's counter is created at 0 by `open`; a missing counter is
 * therefore always a lost one and gets the margin, history or not.
 *
 * Residual risk: the margin covers ids that were issued before Redis lost
 * data but were not yet visible in durable history when the validation read
 * it (sends in flight, or writes a low-consistency read does not see yet).
 * More than `margin` such ids in one channel at that moment, and one of them
 * may be issued again: the later append overwrites the earlier message.
 * Such a send in flight lands inside the skipped range: it is in history, but
 * a device that passed the range before it landed does not get it live.
 * Also unseen: Redis data rolled back inside one epoch (a key restored from a
 * DUMP of the same process), which no normal operation does.
 *
 * Rolling upgrade from the string counter of earlier releases: validation
 * converts such a key (keeping its value if higher); nodes of the old release
 * then fail their sends on that channel with UNAVAILABLE (WRONGTYPE), never
 * issuing a duplicate, until they are replaced.
 */
export class RedisSequencer implements Sequencer {
  private readonly nextScript: LuaCommand;
  private readonly validateScript: LuaCommand;
  private readonly currentScript: LuaCommand;
  private readonly openScript: LuaCommand;
  /** Validations in progress on this node, one per channel: a burst after a failover reads history once. */
  private readonly validating = new Map<string, Promise<void>>();

  constructor(
    redis: RedisClient,
    private readonly durableMax: (channelId: string) => Promise<number>,
    private readonly prefix = 'chat:',
    private readonly margin = 1000,
    /** Told (and awaited) when a validation passed over ids; a failure fails that `next` only. */
    private readonly onSkip: (channelId: string, range: IdRange) => Promise<void> = async () => {},
  ) {
    this.nextScript = luaCommand(redis, 'chatSeqNext', 1, NEXT);
    this.validateScript = luaCommand(redis, 'chatSeqValidate', 1, VALIDATE);
    this.currentScript = luaCommand(redis, 'chatSeqCurrent', 1, CURRENT);
    this.openScript = luaCommand(redis, 'chatSeqOpen', 1, OPEN);
  }

  async open(channelId: string): Promise<void> {
    await guard('open counter', this.openScript(this.key(channelId)));
  }

  private key(channelId: string) {
    return seqKey(this.prefix, channelId);
  }

  async next(channelId: string): Promise<number> {
    const key = this.key(channelId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const id = Number(await guard('next id', this.nextScript(key)));
      if (id > 0) return id;
      await this.validate(channelId);
    }
    // Only if the epoch keeps changing under us (Redis restarting or failing over repeatedly).
    throw unavailable('next id: the message counter could not be validated (Redis is failing over); retry');
  }

  /** The counter when Redis vouches for it; otherwise never less than durable history. */
  async current(channelId: string): Promise<number> {
    const [n, valid] = (await guard('current id', this.currentScript(this.key(channelId)))) as [string, number];
    if (Number(valid) === 1) return Number(n);
    return Math.max(Number(n), await this.durableMax(channelId));
  }

  private validate(channelId: string): Promise<void> {
    let p = this.validating.get(channelId);
    if (!p) {
      p = (async () => {
        const max = await this.durableMax(channelId);
        const r = await guard('validate id', this.validateScript(this.key(channelId), max, this.margin));
        if (!Array.isArray(r)) return;
        const [fromId, toId] = [Number(r[1]), Number(r[2])];
        if (toId > fromId) await this.onSkip(channelId, { fromId, toId });
      })().finally(() => this.validating.delete(channelId));
      this.validating.set(channelId, p);
    }
    return p;
  }
}
