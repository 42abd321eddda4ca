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
    // 2 tokens a second: the fourth take must come within 500 ms of the first to find the
    // bucket empty (at 20/s a 50 ms pause of a loaded box between the round trips refilled it).
    for (let i = 0; i < 5; i++) results.push(await s.take(key, 2, 3));
    assert.deepEqual(results.slice(0, 3), [0, 0, 0], 'burst of 3');
    assert.ok(results[3]! > 0 && results[3]! <= 500, `then a wait of at most 1/2 s (${results[3]})`);
    assert.equal(await s.take(`k${randomUUID()}`, 2, 3), 0, 'buckets are per key');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await s.take(key, 2, 3), 0, 'refilled');
  });
}
