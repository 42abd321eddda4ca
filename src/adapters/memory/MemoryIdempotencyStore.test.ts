import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryIdempotencyStore } from './MemoryIdempotencyStore.js';

test('expired records are swept a few at a time as claims come in, so the map stays bounded without a full scan', async () => {
  const s = new MemoryIdempotencyStore();
  const size = () => (s as unknown as { entries: Map<string, unknown> }).entries.size;
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
