import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryIdempotencyStore } from './MemoryIdempotencyStore.js';

test('expired records go with their generation, so the store stays bounded without a sweep or a full scan', async () => {
  const s = new MemoryIdempotencyStore();
  const size = () => s.size;
  for (let i = 0; i < 20_000; i++) {
    const key = `u:${i}`;
    assert.deepEqual(await s.claim(key, -1), { status: 'claimed' });
    await s.complete(key, 'c', i + 1, -1); // expires at once
  }
  assert.ok(size() < 100, `expired records were dropped along the way (${size()} left)`);
  // Live records are kept and still answer.
  await s.claim('live', 60_000);
  await s.complete('live', 'c', 7, 60_000);
  for (let i = 0; i < 1000; i++) await s.claim(`x:${i}`, 60_000);
  assert.deepEqual(await s.claim('live', 60_000), { status: 'done', channelId: 'c', messageId: 7 });
});

test('a completed record is kept at least its TTL across a generation change, and a claim in progress survives it', async () => {
  const ttl = 300;
  const s = new MemoryIdempotencyStore(); // its first generation starts now
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const store = async (key: string, id: number) => {
    assert.deepEqual(await s.claim(key, ttl), { status: 'claimed' });
    await s.complete(key, 'c', id, ttl);
  };
  await s.claim('held', ttl); // never completed while the generations change
  await sleep(250);
  await store('a', 1); // late in the first generation
  await sleep(100);
  await store('k1', 2); // the first generation is a TTL old: it becomes the previous one
  assert.deepEqual(await s.claim('a', ttl), { status: 'done', channelId: 'c', messageId: 1 }, 'kept: younger than its TTL');
  let answered = false;
  const second = s.claim('held', ttl).then((r) => {
    answered = true;
    return r;
  });
  await sleep(20);
  assert.equal(answered, false, 'the claim in progress still holds');
  await s.complete('held', 'c', 99, ttl);
  assert.deepEqual(await second, { status: 'done', channelId: 'c', messageId: 99 });
  await sleep(350);
  await store('k2', 3); // the previous generation (with a) goes
  assert.deepEqual(await s.claim('a', ttl), { status: 'claimed' }, 'past its TTL the key is free again');
  assert.ok(s.size <= 4, `the old generation was dropped (${s.size} held)`);
});
