import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chan, type Factories } from './support.js';

/** The Sequencer contract, for every adapter. */
export function sequencerSuite(name: string, make: NonNullable<Factories['sequencer']>) {
  test(`${name} Sequencer: ids are unique and increasing per channel under concurrency`, async () => {
    const s = await make();
    const a = chan();
    const b = chan();
    await Promise.all([s.open(a), s.open(b)]);
    const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => s.next(i % 2 ? a : b)));
    const ofA = ids.filter((_, i) => i % 2);
    assert.equal(new Set(ofA).size, 100);
    assert.equal(Math.max(...ofA), 100);
    assert.equal(await s.current(a), 100);
    assert.equal(await s.current(chan()), 0);
  });
  test(`${name} Sequencer: ids strictly increase per channel, interleaved across channels; current is the last one`, async () => {
    const s = await make();
    const chans = [chan(), chan(), chan()];
    for (const ch of chans) await s.open(ch);
    const last = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const ch = chans[(i * 7) % 3]!;
      const id = await s.next(ch);
      assert.ok(id > (last.get(ch) ?? 0), `${id} after ${last.get(ch)}`);
      last.set(ch, id);
    }
    for (const ch of chans) assert.equal(await s.current(ch), last.get(ch));
  });
}
