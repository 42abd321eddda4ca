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
