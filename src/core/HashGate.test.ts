import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HashGate } from './HashGate.js';
import type { DomainError } from '../domain/errors.js';

const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the hash gate runs at most `concurrency`, queues at most `queue`, and one address holds at most `concurrency` places', async () => {
  const gate = new HashGate({ concurrency: 2, queue: 3 });
  let running = 0;
  let peak = 0;
  const job = async () => {
    peak = Math.max(peak, ++running);
    await later(20);
    running--;
  };
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: DomainError) => {
        assert.ok(e.retryAfterMs! > 0);
        return e.kind;
      },
    );
  const a = [1, 2, 3].map(() => outcome(gate.run('a', job)));
  const others = ['b', 'c', 'd', 'e'].map((k) => outcome(gate.run(k, job)));
  assert.deepEqual(await Promise.all(a), ['ok', 'ok', 'resource_exhausted']);
  assert.deepEqual(await Promise.all(others), ['ok', 'ok', 'ok', 'resource_exhausted'], 'queue of 3 behind 2 running');
  assert.equal(peak, 2);
  assert.equal(gate.pending, 0);
  assert.equal(await outcome(gate.run('a', job)), 'ok', 'places are given back');
});
