import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Factories } from './support.js';

/** The RateLimiter contract, for every adapter. */
export function rateLimiterSuite(name: string, make: NonNullable<Factories['rateLimiter']>) {
  test(`${name} RateLimiter: a burst is allowed, then a wait is reported, and tokens refill`, async () => {
    const s = await make();
    const key = `k${randomUUID()}`;
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await s.take(key, 20, 3));
    assert.deepEqual(results.slice(0, 3), [0, 0, 0], 'burst of 3');
    assert.ok(results[3]! > 0 && results[3]! <= 50, `then a wait of at most 1/20 s (${results[3]})`);
    assert.equal(await s.take(`k${randomUUID()}`, 20, 3), 0, 'buckets are per key');
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(await s.take(key, 20, 3), 0, 'refilled');
  });
}
