import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { only, type Factories } from './support.js';

/** The IdempotencyStore contract, for every adapter. */
export function idempotencyStoreSuite(name: string, make: NonNullable<Factories['idempotency']>) {
  test(`${name} IdempotencyStore: one claim wins, the others wait for its outcome`, async () => {
    const s = await make();
    const key = randomUUID();
    // A store may add `unvouched` (it cannot prove it kept its data for the TTL); never `recovered` here.
    assert.deepEqual(only(await s.claim(key, 60_000)), { status: 'claimed' });
    const waiting = s.claim(key, 60_000);
    await s.complete(key, 'g_x', 7, 60_000);
    assert.deepEqual(await waiting, { status: 'done', channelId: 'g_x', messageId: 7 });
    const released = randomUUID();
    await s.claim(released, 60_000);
    const next = s.claim(released, 60_000);
    await s.release(released);
    assert.deepEqual(only(await next), { status: 'claimed' });
  });
}
