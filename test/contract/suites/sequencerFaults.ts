import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sequencer } from '../../../src/ports/Sequencer.js';
import { chan, type Factories } from './support.js';

/** The Sequencer (under faults of its backend) contract, for every adapter. */
export function sequencerFaultsSuite(name: string, make: NonNullable<Factories['sequencerFaults']>) {
  const setup = async () => {
    const durable = new Map<string, number>();
    const faults = await make(async (ch) => durable.get(ch) ?? 0);
    return { durable, ...faults };
  };
  const take = async (s: Sequencer, ch: string, n: number) => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(await s.next(ch));
    return ids;
  };
  test(`${name} Sequencer: after the counter is lost, ids continue past durable history + margin, with or without history; an opened channel starts at 1`, async () => {
    const { durable, sequencer: s, margin, lose } = await setup();
    const ch = chan();
    await s.open(ch);
    assert.deepEqual(await take(s, ch, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    durable.set(ch, 7); // 8..10 were taken but are not durable yet (sends in flight)
    await lose(ch);
    assert.ok((await s.current(ch)) >= 7, 'current never reads below durable history');
    const after = await take(s, ch, 3);
    assert.deepEqual(after, [7 + margin + 1, 7 + margin + 2, 7 + margin + 3], `continues at durable max + margin (${margin})`);
    assert.ok(after[0]! > 10, 'no id taken before the loss is issued again');
    assert.equal(await s.current(ch), 7 + margin + 3);
    const fresh = chan();
    await s.open(fresh);
    await s.open(fresh);
    assert.deepEqual(await take(s, fresh, 1), [1], 'an opened channel starts at 1; opening again changes nothing');
    await s.open(fresh);
    await lose(fresh); // id 1 taken, not durable yet (a first send in flight)
    assert.deepEqual(await take(s, fresh, 2), [margin + 1, margin + 2], 'a lost counter without history skips the margin too: id 1 may be in flight');
  });
  test(`${name} Sequencer: a counter that comes back lower (older snapshot, lagging replica) continues past durable history + margin on every node`, async () => {
    const { durable, sequencer: s, peer, margin, snapshot } = await setup();
    const other = await peer();
    const ch = chan();
    await s.open(ch);
    assert.deepEqual(await take(s, ch, 5), [1, 2, 3, 4, 5]);
    const restore = await snapshot(ch);
    assert.deepEqual(await take(other, ch, 5), [6, 7, 8, 9, 10]);
    durable.set(ch, 10);
    await restore(); // the counter says 5 again; ids 6..10 are stored
    assert.ok((await s.current(ch)) >= 10, 'current never reads below durable history');
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? s : other).next(ch)));
    assert.equal(new Set(ids).size, ids.length, 'unique across nodes validating at once');
    assert.equal(Math.min(...ids), 10 + margin + 1, `past durable max + margin (${margin}), never 6..10 again`);
    assert.equal(Math.max(...ids), 10 + margin + 40, 'dense from there');
    assert.equal(await other.current(ch), 10 + margin + 40);
    // Rolled back again later: every epoch change is checked, not only the first.
    const again = await snapshot(ch);
    await take(s, ch, 3);
    durable.set(ch, 10 + margin + 43);
    await again();
    assert.equal(await other.next(ch), 10 + margin + 43 + margin + 1);
  });
}
