import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CqlSession } from './CqlSession.js';
import { CursorWriteBehind } from './CursorWriteBehind.js';

test('a value whose write is in flight stays visible to readers until the store has it', async () => {
  let release!: () => void;
  const writing = new Promise<void>((r) => (release = r));
  const session = { execute: () => writing, batch: () => writing } as unknown as CqlSession;
  const wb = new CursorWriteBehind(session, 'UPDATE t SET v = ?', 10_000, () => {});
  wb.raise('user', 'ch', 7, (v) => [v]);
  const flushed = wb.flush();
  assert.equal(wb.queued('user')?.get('ch')?.value, 7, 'readable while the write is in flight');
  wb.raise('user', 'ch', 5, (v) => [v]);
  assert.equal(wb.queued('user')?.get('ch')?.value, 7, 'the higher of waiting and in-flight');
  release();
  await flushed;
  assert.equal(wb.queued('user')?.get('ch')?.value, 5, 'once written, only what still waits');
});

test('one flush writes the cells of many partitions in batches of at most maxBatch rows; a failed batch is queued again', async () => {
  const requests: number[] = [];
  let fail = true;
  const session = {
    execute: async () => {
      requests.push(1);
    },
    batch: async (items: unknown[]) => {
      requests.push(items.length);
      if (fail) {
        fail = false;
        throw new Error('timeout');
      }
    },
  } as unknown as CqlSession;
  const errors: unknown[] = [];
  const wb = new CursorWriteBehind(session, 'UPDATE t SET v = ?', 10_000, (e) => errors.push(e), 50);
  for (let u = 0; u < 120; u++) wb.raise(`user${u}`, 'ch', u + 1, (v) => [v]);
  await wb.flush();
  assert.deepEqual(requests, [50, 50, 20], '120 cells of 120 partitions in 3 requests');
  assert.equal(errors.length, 1);
  assert.equal(wb.queued('user0')?.get('ch')?.value, 1, 'the first batch failed: its cells wait for the next flush');
  assert.equal(wb.queued('user60'), undefined, 'the others were written');
  await wb.flush();
  assert.deepEqual(requests, [50, 50, 20, 50]);
  assert.equal(wb.queued('user0'), undefined);
});
