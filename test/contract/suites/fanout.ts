import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatEvent } from '../../../src/domain/events.js';
import { chan, msg, type Factories } from './support.js';

/** The Fanout contract, for every adapter. */
export function fanoutSuite(name: string, make: NonNullable<Factories['fanout']>) {
  test(`${name} Fanout: subscribers get a topic's events in publish order; unsubscribe stops them`, async () => {
    const s = await make();
    const got: number[] = [];
    const topic = `ch:${chan()}`;
    const base = s.subscriptionCount();
    const off = s.subscribe(topic, (e: ChatEvent) => e.type === 'message' && got.push(e.message.id));
    await s.subscribed();
    for (let i = 1; i <= 50; i++) await s.publish(topic, { type: 'message', message: msg('g', i) });
    const deadline = Date.now() + 2000;
    while (got.length < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(
      got,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    off.off();
    off.off();
    assert.equal(s.subscriptionCount(), base);
    await s.publish(topic, { type: 'message', message: msg('g', 51) });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(got.length, 50);
  });
}
