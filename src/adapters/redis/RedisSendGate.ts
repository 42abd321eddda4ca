import type { SendGate, SendGateRequest, SendGateResult } from '../../ports/SendGate.js';
import { guard, luaCommand, type LuaCommand, type RedisClient } from './connect.js';
import { EPOCH } from './epoch.js';
import { ABANDONED_MS, CLAIM_FN, idemKeys, type RedisIdempotencyStore } from './RedisIdempotencyStore.js';
import { RATE_TAKE_FN, rateKey } from './RedisRateLimiter.js';
import { SEQ_NEXT_FN, seqKey } from './RedisSequencer.js';

/**
 * KEYS: rate bucket, claim record, claim marker, channel counter. ARGV: rate,
 * burst, owner, now, ttl, abandoned-after, first attempt ('1'). The three
 * steps are the very functions the RateLimiter, IdempotencyStore and
 * Sequencer scripts run, so a send through the gate leaves the same state.
 */
const ADMIT = `${EPOCH}${RATE_TAKE_FN}${CLAIM_FN}${SEQ_NEXT_FN}
local wait = rate_take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
if wait > 0 then return {'wait', wait} end
local c = claim(KEYS[2], KEYS[3], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6])
if c == 'claimed' or (c == 'unvouched' and ARGV[7] == '1') then return {c, seq_next(KEYS[4])} end
return {c, -1}`;

/**
 * The send gate on a single Redis: one script, one round trip, where the
 * separate calls took two (rate limit with the claim, then the sequencer).
 * Not for Redis Cluster: its four keys live in different slots.
 */
export class RedisSendGate implements SendGate {
  private readonly script: LuaCommand;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    /** The store whose records these are: claims are taken under its owner, so its `release` applies. */
    private readonly idempotency: RedisIdempotencyStore,
  ) {
    this.script = luaCommand(redis, 'chatSendGate', 4, ADMIT);
  }

  async admit(r: SendGateRequest): Promise<SendGateResult> {
    const [record, marker] = idemKeys(this.prefix, r.claimKey);
    const [what, n] = (await guard(
      'send gate',
      this.script(
        rateKey(this.prefix, r.rateKey),
        record,
        marker,
        seqKey(this.prefix, r.channelId),
        r.perSecond,
        r.burst,
        this.idempotency.owner,
        Date.now(),
        r.ttlMs,
        ABANDONED_MS,
        r.firstAttempt ? '1' : '0',
      ),
    )) as [string, number];
    if (what === 'wait') return { wait: Number(n) };
    if (what === 'pending') return { pending: true };
    const id = Number(n) > 0 ? Number(n) : undefined;
    if (what === 'claimed') return { claim: { status: 'claimed' }, id };
    if (what === 'unvouched') return { claim: { status: 'claimed', unvouched: true }, id };
    if (what === 'recovered') return { claim: { status: 'claimed', recovered: true } };
    const [, channelId, messageId] = what.split(':');
    return { claim: { status: 'done', channelId: channelId!, messageId: Number(messageId) } };
  }
}
