import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { contractSuites } from './suites.js';
import type { RedisClient } from '../../src/adapters/redis/connect.js';
import { RedisSequencer } from '../../src/adapters/redis/RedisSequencer.js';
import { RedisIdempotencyStore } from '../../src/adapters/redis/RedisIdempotencyStore.js';
import { RedisPresenceStore } from '../../src/adapters/redis/RedisPresenceStore.js';
import { RedisFanout } from '../../src/adapters/redis/RedisFanout.js';
import { RedisRateLimiter } from '../../src/adapters/redis/RedisRateLimiter.js';
import { RedisRegistry } from '../../src/adapters/redis/RedisRegistry.js';
import type { ChatEvent } from '../../src/domain/events.js';

/**
 * The Redis adapters' contract run, for one Redis and for a Redis Cluster
 * alike: `conn` opens a connection (a fan-out's subscriber with `sharded`),
 * `partitions` is the fan-out wiring (0: classic pub/sub, one channel per
 * topic; > 0: sharded pub/sub over that many partitions).
 */
export function redisContract(name: string, prefix: string, conn: (sharded?: boolean) => Promise<RedisClient>, partitions: number) {
  contractSuites({
    name,
    sequencer: async () => new RedisSequencer(await conn(), async () => 0, prefix),
    sequencerFaults: async (durableMax) => {
      const r = await conn();
      const margin = 100;
      const key = (ch: string) => `${prefix}seq:{${ch}}`;
      return {
        sequencer: new RedisSequencer(r, durableMax, prefix, margin),
        peer: async () => new RedisSequencer(await conn(), durableMax, prefix, margin),
        margin,
        lose: async (ch) => void (await r.del(key(ch))),
        snapshot: async (ch) => {
          const saved = await r.hgetall(key(ch));
          // Loaded by another redis-server process (a restart, a promoted replica), so under another epoch.
          return async () =>
            void (await r
              .multi()
              .del(key(ch))
              .hset(key(ch), { ...saved, e: `${'0'.repeat(40)}:${'1'.repeat(40)}` })
              .exec());
        },
      };
    },
    idempotency: async () => new RedisIdempotencyStore(await conn(), prefix),
    presence: async () => new RedisPresenceStore(await conn(), prefix),
    fanout: async () => new RedisFanout(await conn(), await conn(true), prefix, partitions),
    rateLimiter: async () => new RedisRateLimiter(await conn(), prefix),
    registry: async () => [new RedisRegistry(await conn(), `${prefix}reg:`, 200), new RedisRegistry(await conn(), `${prefix}reg:`, 200)],
  });

  test(`${name} PresenceStore: users spread over partitions; a sweep finds every user's expiry, each once`, async () => {
    const s = new RedisPresenceStore(await conn(), prefix);
    const users = Array.from({ length: 200 }, () => `u_${randomUUID().replaceAll('-', '')}`);
    const came = await Promise.all(users.map((u, i) => s.touch(u, 'd', 100 + i, 1000 + i)));
    assert.ok(came.every((c) => c.cameOnline));
    assert.deepEqual(await s.sweep(999), []);
    const off = await s.sweep(1099);
    const mine = off.filter((p) => users.includes(p.userId));
    assert.equal(mine.length, 100, 'the 100 users whose devices expired by 1099');
    assert.deepEqual(await s.sweep(1099), [], 'each reported once');
    const got = await s.get(users.slice(99, 101));
    assert.deepEqual(got, [
      { userId: users[99]!, online: false, lastActiveAtMs: 199 },
      { userId: users[100]!, online: true, lastActiveAtMs: 200 },
    ]);
  });

  if (partitions > 0) {
    test(`${name} Fanout (${partitions} partitions): topics sharing a partition stay apart; subscriptions stay bounded`, async () => {
      const f = new RedisFanout(await conn(), await conn(true), prefix, partitions);
      const got = new Map<string, number[]>();
      const topics = Array.from({ length: partitions * 4 }, () => `c:${randomUUID()}`);
      const offs = topics.map((t) => f.subscribe(t, (e: ChatEvent) => e.type === 'message' && got.set(t, [...(got.get(t) ?? []), e.message.id])));
      await f.subscribed();
      assert.ok(f.upstreamCount() <= partitions, `${f.upstreamCount()} Redis subscriptions for ${topics.length} topics`);
      const msg = (id: number) => ({
        type: 'message' as const,
        message: { channelId: 'g', id, senderUserId: 'u', senderDeviceId: 'd', body: '', sentAtMs: 0, clientMsgId: '', kind: 'user' as const },
      });
      await Promise.all(topics.map((t, i) => f.publish(t, msg(i))));
      const deadline = Date.now() + 3000;
      while ([...got.values()].flat().length < topics.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      topics.forEach((t, i) => assert.deepEqual(got.get(t), [i], `topic ${i} got only its own event`));
      // Dropping half the topics keeps the other half live, even where they share a partition.
      offs.slice(0, topics.length / 2).forEach((off) => off());
      await f.subscribed();
      got.clear();
      await Promise.all(topics.map((t, i) => f.publish(t, msg(i))));
      const until = Date.now() + 3000;
      while ([...got.values()].flat().length < topics.length / 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(got.size, topics.length / 2, 'only the topics still subscribed get events');
      offs.slice(topics.length / 2).forEach((off) => off());
      assert.equal(f.upstreamCount(), 0, 'every partition unsubscribed');
      await f.close();
    });
  }
}
