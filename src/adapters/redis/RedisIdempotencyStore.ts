import type { Redis } from 'ioredis';
import { unavailable } from '../../domain/errors.js';
import type { ClaimResult, IdempotencyStore } from '../../ports/IdempotencyStore.js';
import { guard } from './connect.js';

const PENDING = 'pending';
/** A claim that is neither completed nor released within this time is abandoned (its node died). */
const PENDING_TTL_MS = 15_000;
const WAIT_MS = 5_000;

/** Delete only if still pending, so a late release never erases a completed record. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * client_msg_id records shared by all nodes: `SET NX` of a pending marker
 * claims a key; completion overwrites it with `done:<channel>:<id>`. A claim
 * that finds a pending marker polls until it resolves or WAIT_MS passes
 * (then UNAVAILABLE: the client retries later with the same id).
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'chat:',
  ) {}

  private key(k: string) {
    return `${this.prefix}idem:{${k}}`;
  }

  async claim(key: string, _ttlMs: number): Promise<ClaimResult> {
    const deadline = Date.now() + WAIT_MS;
    for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
      const ok = await guard('claim', this.redis.set(this.key(key), PENDING, 'PX', PENDING_TTL_MS, 'NX'));
      if (ok === 'OK') return { status: 'claimed' };
      const v = await guard('claim', this.redis.get(this.key(key)));
      if (v && v.startsWith('done:')) {
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
    await guard('release', this.redis.eval(RELEASE, 1, this.key(key), PENDING));
  }
}
