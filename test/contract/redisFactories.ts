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
import { partitionOf } from '../../src/adapters/redis/partition.js';
import type { ChatEvent } from '../../src/domain/events.js';

const event = (id: number): ChatEvent => ({
  type: 'message',
  message: { channelId: 'g', id, senderUserId: 'u', senderDeviceId: 'd', body: '', sentAtMs: 0, clientMsgId: '', kind: 'user' },
});

async function until(done: () => boolean, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

/**
 * The Redis adapters' contract run, for one Redis and for a Redis Cluster
 * alike: `conn` opens a connection (a fan-out's subscriber with `sharded`),
 * `partitions` is the fan-out wiring (0: classic pub/sub, one channel per
 * topic; > 0: sharded pub/sub over that many partitions).
 */
export function redisContract(name: string, prefix: string, conn: (sharded?: boolean) => Promise<RedisClient>, partitions: number) {
  const fanout = async () => new RedisFanout(await conn(), await conn(true), prefix, partitions);
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
    fanout,
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

  test(`${name} Fanout: a node's own subscribers get its events at once and once; other nodes once; an untagged (older node's) payload still reaches both`, async () => {
    const [a, b] = [await fanout(), await fanout()];
    const topic = `c:${randomUUID()}`;
    const gotA: number[] = [];
    const gotB: number[] = [];
    const offs = [
      a.subscribe(topic, (e) => e.type === 'message' && gotA.push(e.message.id)),
      b.subscribe(topic, (e) => e.type === 'message' && gotB.push(e.message.id)),
    ];
    await Promise.all([a.subscribed(), b.subscribed()]);
    const ids = Array.from({ length: 20 }, (_, i) => i + 1);
    for (const id of ids) {
      const sent = a.publish(topic, event(id));
      assert.equal(gotA.at(-1), id, 'delivered on the publishing node before the Redis round trip');
      await sent;
    }
    await until(() => gotB.length >= ids.length);
    // B's event reaches A after every copy Redis sent back to A (one connection, in order).
    await b.publish(topic, event(1000));
    const raw = await conn();
    const legacy = JSON.stringify(event(2000));
    if (partitions) await raw.spublish(`${prefix}ps:{f${partitionOf(topic, partitions)}}`, `${topic}\n${legacy}`);
    else await raw.publish(`${prefix}ev:${topic}`, legacy);
    await until(() => gotA.includes(2000) && gotB.includes(2000));
    assert.deepEqual(gotA, [...ids, 1000, 2000], 'no copy of its own events came back to A');
    assert.deepEqual(gotB, [...ids, 1000, 2000]);
    offs.forEach((off) => off.off());
    raw.disconnect();
    await Promise.all([a.close(), b.close()]);
  });

  if (partitions > 0) {
    test(`${name} Fanout (${partitions} partitions): topics sharing a partition stay apart; subscriptions stay bounded`, async () => {
      const f = new RedisFanout(await conn(), await conn(true), prefix, partitions);
      const got = new Map<string, number[]>();
      const topics = Array.from({ length: partitions * 4 }, () => `c:${randomUUID()}`);
      const offs = topics.map((t) => f.subscribe(t, (e: ChatEvent) => e.type === 'message' && got.set(t, [...(got.get(t) ?? []), e.message.id])));
      await f.subscribed();
      assert.ok(f.upstreamCount() <= partitions, `${f.upstreamCount()} Redis subscriptions for ${topics.length} topics`);
      await Promise.all(topics.map((t, i) => f.publish(t, event(i))));
      const deadline = Date.now() + 3000;
      while ([...got.values()].flat().length < topics.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      topics.forEach((t, i) => assert.deepEqual(got.get(t), [i], `topic ${i} got only its own event`));
      // Dropping half the topics keeps the other half live, even where they share a partition.
      offs.slice(0, topics.length / 2).forEach((off) => off.off());
      await f.subscribed();
      got.clear();
      await Promise.all(topics.map((t, i) => f.publish(t, event(i))));
      const until = Date.now() + 3000;
      while ([...got.values()].flat().length < topics.length / 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(got.size, topics.length / 2, 'only the topics still subscribed get events');
      offs.slice(topics.length / 2).forEach((off) => off.off());
      assert.equal(f.upstreamCount(), 0, 'every partition unsubscribed');
      await f.close();
    });
  }
}
