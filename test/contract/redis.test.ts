import { randomUUID } from 'node:crypto';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisContract } from './redisFactories.js';
import { connectRedis } from '../../src/adapters/redis/connect.js';
import { RedisSequencer } from '../../src/adapters/redis/RedisSequencer.js';
import { idemKeys, RedisIdempotencyStore } from '../../src/adapters/redis/RedisIdempotencyStore.js';
import { RedisSendGate } from '../../src/adapters/redis/RedisSendGate.js';
import { PrivateRedis, REDIS_URL, sharedRedis, testPrefix } from '../support/redis.js';

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

redisContract('redis', prefix, conn, 0);
// The partitioned (sharded pub/sub) fan-out works on one Redis too: the same wiring as on a cluster.
redisContract('redis+partitions', `${prefix}pp:`, conn, 8);

test('redis Sequencer: a lost counter is re-seeded past durable history', async () => {
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
  assert.equal(await seq.next(ch), 246);
  const fresh = 'g_' + 'd'.repeat(32);
  durable = 0;
  await seq.open(fresh);
  assert.equal(await seq.next(fresh), 1, 'a new (opened) channel starts at 1');
});

test('redis Sequencer: every re-seed reports the ids it passed over, once, from the highest id the counter or history knew of', async () => {
  const r = await conn();
  let durable = 0;
  const skips: string[] = [];
  const onSkip = async (ch: string, range: { fromId: number; toId: number }) => void skips.push(`${ch}:${range.fromId}-${range.toId}`);
  const seq = new RedisSequencer(r, async () => durable, prefix, 100, onSkip);
  const other = new RedisSequencer(await conn(), async () => durable, prefix, 100, onSkip);
  const ch = 'g_' + 'e'.repeat(32);
  await seq.open(ch);
  assert.equal(await seq.next(ch), 1);
  assert.deepEqual(skips, [], 'an opened channel skips nothing');
  durable = 1;
  await r.del(`${prefix}seq:{${ch}}`); // FLUSHALL
  const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? seq : other).next(ch)));
  assert.equal(Math.min(...ids), 102);
  assert.deepEqual(skips, [`${ch}:1-101`], 'one range, reported by the node whose validation won');
  // A restart that kept the data (another epoch, counter intact at 121 = history): 122..221 are passed over.
  durable = 121;
  await r.hset(`${prefix}seq:{${ch}}`, 'e', `${'0'.repeat(40)}:${'1'.repeat(40)}`);
  assert.equal(await seq.next(ch), 222);
  assert.deepEqual(skips.slice(1), [`${ch}:121-221`]);
});

/** Polls until Redis answers again (ioredis reconnects on its own after a restart). */
async function whenBack<T>(f: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const infoField = async (r: Redis, section: string, field: string) => (await r.info(section)).match(new RegExp(`${field}:(\\S+)`))?.[1];

test('redis Sequencer: Redis restarted from an older RDB snapshot does not reissue ids taken after the snapshot', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-seq-rdb-'));
  const server = new PrivateRedis(6392, { dir });
  await server.start();
  const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  const r = await connectRedis(server.url, 'rdb-test');
  try {
    let durable = 0;
    const seq = new RedisSequencer(r, async () => durable, 'rdb:', 100);
    const ch = 'g_' + 'e'.repeat(32);
    const key = `rdb:seq:{${ch}}`;
    const ids: number[] = [];
    await seq.open(ch);
    for (let i = 0; i < 5; i++) ids.push(await seq.next(ch));
    durable = 5;
    await admin.save();
    const runBefore = await infoField(admin, 'server', 'run_id');
    for (let i = 0; i < 5; i++) ids.push(await seq.next(ch));
    durable = 10; // 6..10 are stored history now
    assert.deepEqual(ids, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    await admin.shutdown('NOSAVE').catch(() => {}); // the connection closes before any reply
    await server.stop();
    await server.start(); // same dir: loads the snapshot taken at 5

    assert.equal(await whenBack(() => admin.hget(key, 'n')), '5', 'the counter really went back (the danger is real)');
    assert.notEqual(await infoField(admin, 'server', 'run_id'), runBefore, 'a new process, a new epoch');
    assert.equal(await whenBack(() => seq.current(ch)), 10, 'current never reads below durable history');
    const next = await whenBack(() => seq.next(ch));
    assert.equal(next, 10 + 100 + 1, 'validated past durable max + margin: 6..10 are not issued again');
    assert.equal(await seq.next(ch), 112);
    assert.equal(await seq.current(ch), 112);
  } finally {
    admin.disconnect();
    r.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('redis Sequencer: an old master demoted and promoted again (same process, same run_id) does not trust counters from its first term', {
  timeout: 30_000,
}, async () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'chat-seq-a-')), mkdtempSync(join(tmpdir(), 'chat-seq-b-'))];
  const syncNow = ['--repl-diskless-sync-delay', '0'];
  const [a, b] = [new PrivateRedis(6393, { dir: dirs[0], args: syncNow }), new PrivateRedis(6394, { dir: dirs[1], args: syncNow })];
  await Promise.all([a.start(), b.start()]);
  const [adminA, adminB] = [new Redis(a.url), new Redis(b.url)];
  const r = await connectRedis(a.url, 'failback-test');
  const synced = async (replica: Redis, key: string, n: string) => {
    const deadline = Date.now() + 10_000;
    while ((await infoField(replica, 'replication', 'master_link_status')) !== 'up' || (await replica.hget(key, 'n')) !== n) {
      if (Date.now() > deadline) assert.fail(`replica did not sync ${key} = ${n}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  try {
    let durable = 0;
    const seq = new RedisSequencer(r, async () => durable, 'fb:', 100);
    const ch = 'g_' + 'f'.repeat(32);
    const key = `fb:seq:{${ch}}`;
    await seq.open(ch);
    for (let i = 1; i <= 3; i++) assert.equal(await seq.next(ch), i);
    durable = 3;
    const runA = await infoField(adminA, 'server', 'run_id');
    const firstTerm = await adminA.hget(key, 'e');

    // B replicates A, then takes over while lagging: its copy of the counter is behind (1, not 3).
    await adminB.replicaof('127.0.0.1', a.port);
    await synced(adminB, key, '3');
    await adminB.replicaof('NO', 'ONE');
    await adminB.hset(key, 'n', '1');
    // A comes back as B's replica (same process), gets B's data, and is later promoted again.
    await adminA.replicaof('127.0.0.1', b.port);
    await synced(adminA, key, '1');
    await adminA.replicaof('NO', 'ONE');

    assert.equal(await infoField(adminA, 'server', 'run_id'), runA, 'still the same process');
    assert.equal(await adminA.hget(key, 'e'), firstTerm, "the counter carries A's first-term epoch, and says 1");
    assert.equal(await seq.next(ch), 3 + 100 + 1, 'validated again: 2 and 3 are not issued twice');
  } finally {
    r.disconnect();
    adminA.disconnect();
    adminB.disconnect();
    await Promise.all([a.stop(), b.stop()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('redis Sequencer: a plain string counter of an earlier release is converted, never lowered', async () => {
  const r = await conn();
  let durable = 0;
  const seq = new RedisSequencer(r, async () => durable, prefix, 100);
  const [ch1, ch2] = ['g_' + '1'.repeat(32), 'g_' + '2'.repeat(32)];
  await r.set(`${prefix}seq:{${ch1}}`, '500');
  assert.equal(await seq.current(ch1), 500);
  assert.equal(await seq.next(ch1), 501, 'an old counter above history + margin is kept');
  await r.set(`${prefix}seq:{${ch2}}`, '500');
  durable = 700;
  assert.equal(await seq.next(ch2), 801, 'one below history is moved past it');
  assert.equal(await r.type(`${prefix}seq:{${ch2}}`), 'hash');
});

test('redis IdempotencyStore: a claim abandoned by a dead node is recovered, and says so', async () => {
  const r = await conn();
  const s = new RedisIdempotencyStore(r, prefix);
  const key = 'dead-node-send';
  // What a node that died mid-send leaves behind: an old pending marker.
  await new RedisIdempotencyStore(r, prefix).claim(key, 60_000);
  const [stored] = await r.keys(`${prefix}idem:*:${key}`);
  await r.set(stored!, `pending:deadnode:${Date.now() - 60_000}`, 'PX', 60_000);
  assert.deepEqual(await s.claim(key, 60_000), { status: 'claimed', recovered: true });
  await s.complete(key, 'g_x', 3, 60_000);
  assert.deepEqual(await s.claim(key, 60_000), { status: 'done', channelId: 'g_x', messageId: 3 });
});

test('redis IdempotencyStore: a missing record is vouched for only once the data has been continuous (same epoch) for the TTL', async () => {
  const r = await conn();
  const p = `${prefix}v:`;
  const s = new RedisIdempotencyStore(r, p);
  const ttl = 2000;
  const claim = async () => {
    const c = await s.claim(randomUUID(), ttl);
    assert.equal(c.status, 'claimed');
    return c.status === 'claimed' && c.unvouched === true;
  };
  // 256 partitions: claim until every partition has a marker; all of them are fresh, so none vouches.
  const first = await Promise.all(Array.from({ length: 5000 }, claim));
  assert.ok(first.every(Boolean), 'unvouched while the markers are younger than the TTL');
  await new Promise((res) => setTimeout(res, ttl + 50));
  assert.ok(!(await Promise.all(Array.from({ length: 50 }, claim))).some(Boolean), 'vouched once the TTL has passed in one epoch');
  // Data loss: the markers go with the records (FLUSHALL of this prefix) ...
  await r.del(...(await r.keys(`${p}*`)));
  assert.ok((await Promise.all(Array.from({ length: 50 }, claim))).every(Boolean), 'unvouched after the data was lost');
  // ... or come back from another epoch (an older snapshot, a promoted replica).
  await new Promise((res) => setTimeout(res, ttl + 50));
  for (const k of await r.keys(`${p}idem-since:*`)) await r.hset(k, 'e', `${'0'.repeat(40)}:${'1'.repeat(40)}`);
  assert.ok((await Promise.all(Array.from({ length: 50 }, claim))).every(Boolean), 'unvouched under another epoch');
});

test('redis SendGate: the rate token, the claim and (for a send that will store) the next id in one step, leaving what the separate ports leave', async () => {
  const r = await conn();
  const p = `${prefix}gate:`;
  const idem = new RedisIdempotencyStore(r, p);
  const gate = new RedisSendGate(r, p, idem);
  const seq = new RedisSequencer(r, async () => 0, p);
  const ch = `g_${randomUUID().replaceAll('-', '')}`;
  await seq.open(ch);
  const ask = (claimKey: string, firstAttempt: boolean, burst = 100) =>
    gate.admit({ rateKey: `send:${claimKey}`, perSecond: 1, burst, claimKey, ttlMs: 60_000, channelId: ch, firstAttempt });
  const exists = async (k: string) => (await r.exists(idemKeys(p, k)[0])) === 1;

  // The partition markers are new, so claims are unvouched: only a first attempt takes an id (no look in storage needed).
  const a = randomUUID();
  assert.deepEqual(await ask(a, true), { claim: { status: 'claimed', unvouched: true }, id: 1 });
  const b = randomUUID();
  assert.deepEqual(await ask(b, false), { claim: { status: 'claimed', unvouched: true }, id: undefined });
  assert.equal(await seq.current(ch), 1, 'a claim that must look in storage first takes no id');
  assert.equal(await seq.next(ch), 2, 'the gate and the sequencer count on one counter');

  // Vouched (the marker is older than the TTL in this epoch): a clean claim takes the id.
  const c = randomUUID();
  const live = await r.hget(idemKeys(p, a)[1], 'e'); // the epoch a's claim stamped on its partition's marker
  await r.hset(idemKeys(p, c)[1], 'e', live!, 'since', '0');
  assert.deepEqual(await ask(c, false), { claim: { status: 'claimed' }, id: 3 });

  // Abandoned by a dead node: recovered, and no id (the dead attempt may have stored its message).
  const dead = randomUUID();
  await r.set(idemKeys(p, dead)[0], `pending:deadnode:${Date.now() - 60_000}`, 'PX', 60_000);
  assert.deepEqual(await ask(dead, true), { claim: { status: 'claimed', recovered: true } });

  // Completed: the original, no id. Held by another attempt: pending, no id.
  await idem.complete(a, ch, 1, 60_000);
  assert.deepEqual(await ask(a, false), { claim: { status: 'done', channelId: ch, messageId: 1 } });
  const held = randomUUID();
  await new RedisIdempotencyStore(r, p).claim(held, 60_000);
  assert.deepEqual(await ask(held, true), { pending: true });
  assert.equal(await seq.current(ch), 3, 'neither a repeat nor a held claim takes an id');

  // The gate's claim is the store's: its release frees the key.
  await idem.release(b);
  assert.equal(await exists(b), false);

  // Over the rate limit: refused before anything is claimed or taken.
  const bucket = randomUUID();
  const over = (k: string) => gate.admit({ rateKey: `send:${bucket}`, perSecond: 1, burst: 2, claimKey: k, ttlMs: 60_000, channelId: ch, firstAttempt: true });
  await over(randomUUID());
  await over(randomUUID());
  const refused = randomUUID();
  const third = await over(refused);
  assert.ok('wait' in third && third.wait > 0 && third.wait <= 1000, JSON.stringify(third));
  assert.equal(await exists(refused), false, 'a refused send holds no claim');
  assert.equal(await seq.current(ch), 5, 'and took no id');

  // A counter Redis cannot vouch for (another epoch): no id from the gate; the sequencer validates it.
  await r.hset(`${p}seq:{${ch}}`, 'e', 'another-epoch');
  assert.deepEqual(await ask(randomUUID(), true), { claim: { status: 'claimed', unvouched: true }, id: undefined });
  assert.ok((await seq.next(ch)) > 5, 'validated, never lower');
});
