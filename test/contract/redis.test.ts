import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { contractSuites } from './suites.js';
import { connectRedis } from '../../src/adapters/redis/connect.js';
import { RedisSequencer } from '../../src/adapters/redis/RedisSequencer.js';
import { RedisIdempotencyStore } from '../../src/adapters/redis/RedisIdempotencyStore.js';
import { RedisPresenceStore } from '../../src/adapters/redis/RedisPresenceStore.js';
import { RedisFanout } from '../../src/adapters/redis/RedisFanout.js';
import { RedisRateLimiter } from '../../src/adapters/redis/RedisRateLimiter.js';
import { REDIS_URL, sharedRedis, testPrefix } from '../support/redis.js';

const prefix = testPrefix();
const conns: Redis[] = [];
const conn = async () => {
  await sharedRedis().then((r) => r.disconnect());
  const r = await connectRedis(REDIS_URL, 'contract');
  conns.push(r);
  return r;
};
after(async () => {
  const r = conns[0];
  if (r) {
    const keys = await r.keys(`${prefix}*`);
    if (keys.length) await r.del(...keys);
  }
  conns.forEach((c) => c.disconnect());
});

contractSuites({
  name: 'redis',
  sequencer: async () => new RedisSequencer(await conn(), async () => 0, prefix),
  idempotency: async () => new RedisIdempotencyStore(await conn(), prefix),
  presence: async () => new RedisPresenceStore(await conn(), prefix),
  fanout: async () => new RedisFanout(await conn(), await conn(), prefix),
  rateLimiter: async () => new RedisRateLimiter(await conn(), prefix),
});

test('redis Sequencer: a lost counter is re-seeded past durable history; resync never lowers it', async () => {
  const r = await conn();
  let durable = 42;
  const seq = new RedisSequencer(r, async () => durable, prefix, 100);
  const ch = 'g_' + 'c'.repeat(32);
  assert.equal(await seq.next(ch), 143, 'seeded at durable max + margin');
  assert.equal(await seq.next(ch), 144);
  durable = 144;
  await r.del(`${prefix}seq:{${ch}}`); // Redis lost the counter
  assert.equal(await seq.current(ch), 144, 'current falls back to durable history');
  assert.equal(await seq.next(ch), 245);
  await seq.resync(ch); // durable 144 + 100 < 245: unchanged
  assert.equal(await seq.next(ch), 246);
  durable = 1000;
  await seq.resync(ch);
  assert.equal(await seq.next(ch), 1101);
  const fresh = 'g_' + 'd'.repeat(32);
  durable = 0;
  assert.equal(await seq.next(fresh), 1, 'a new channel starts at 1');
});

test('redis IdempotencyStore: a claim abandoned by a dead node is recovered, and says so', async () => {
  const r = await conn();
  const s = new RedisIdempotencyStore(r, prefix);
  const key = 'dead-node-send';
  // What a node that died mid-send leaves behind: an old pending marker.
  await r.set(`${prefix}idem:{${key}}`, `pending:deadnode:${Date.now() - 60_000}`, 'PX', 60_000);
  assert.deepEqual(await s.claim(key, 60_000), { status: 'claimed', recovered: true });
  await s.complete(key, 'g_x', 3, 60_000);
  assert.deepEqual(await s.claim(key, 60_000), { status: 'done', channelId: 'g_x', messageId: 3 });
});
