import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contractSuites } from './suites.js';
import { safetySuite } from './safetySuite.js';
import { MemorySafetyStore } from '../../src/adapters/memory/MemorySafetyStore.js';
import { MemoryRateLimiter } from '../../src/adapters/memory/MemoryRateLimiter.js';
import { MemoryAccountStore } from '../../src/adapters/memory/MemoryAccountStore.js';
import { MemoryChannelStore } from '../../src/adapters/memory/MemoryChannelStore.js';
import { MemoryCursorStore } from '../../src/adapters/memory/MemoryCursorStore.js';
import { MemoryFanout } from '../../src/adapters/memory/MemoryFanout.js';
import { MemoryIdempotencyStore } from '../../src/adapters/memory/MemoryIdempotencyStore.js';
import { MemoryMessageStore } from '../../src/adapters/memory/MemoryMessageStore.js';
import { MemoryPresenceStore } from '../../src/adapters/memory/MemoryPresenceStore.js';
import { MemorySendGate } from '../../src/adapters/memory/MemorySendGate.js';
import { MemorySequencer } from '../../src/adapters/memory/MemorySequencer.js';

contractSuites({
  name: 'memory',
  messages: async () => new MemoryMessageStore(),
  // No sequencerFaults: memory counters cannot be lost or rolled back apart from the memory history they number.
  sequencer: async () => new MemorySequencer(),
  idempotency: async () => new MemoryIdempotencyStore(),
  cursors: async () => new MemoryCursorStore(),
  channels: async () => new MemoryChannelStore(),
  accounts: async () => new MemoryAccountStore(),
  presence: async () => new MemoryPresenceStore(),
  fanout: async () => new MemoryFanout(),
  rateLimiter: async () => new MemoryRateLimiter(),
});

safetySuite('memory', async () => new MemorySafetyStore());

test('memory SendGate: the rate token, the claim and (for a clean claim) the next id in one step, leaving what the separate ports leave', async () => {
  const rate = new MemoryRateLimiter();
  const idem = new MemoryIdempotencyStore();
  const seq = new MemorySequencer();
  const gate = new MemorySendGate(rate, idem, seq);
  const ch = 'g_' + 'a'.repeat(32);
  const ask = (claimKey: string, rateKey = `send:${claimKey}`, burst = 100) =>
    gate.admit({ rateKey, perSecond: 1, burst, claimKey, ttlMs: 60_000, channelId: ch, firstAttempt: false });

  assert.deepEqual(await ask('a'), { claim: { status: 'claimed' }, id: 1 }, 'memory never loses a record: every clean claim is vouched');
  assert.equal(await seq.next(ch), 2, 'the gate and the sequencer count on one counter');
  assert.deepEqual(await ask('b'), { claim: { status: 'claimed' }, id: 3 });

  // Held by another attempt: pending, no id; the store's claim waits for it and sees it completed.
  assert.deepEqual(await ask('a'), { pending: true });
  const waiting = idem.claim('a', 60_000);
  await idem.complete('a', ch, 1, 60_000);
  assert.deepEqual(await waiting, { status: 'done', channelId: ch, messageId: 1 });
  assert.deepEqual(await ask('a'), { claim: { status: 'done', channelId: ch, messageId: 1 } }, 'a repeat takes no id');
  assert.equal(await seq.current(ch), 3, 'neither a held nor a repeated claim took an id');

  // The gate's claim is the store's: its release frees the key.
  await idem.release('b');
  assert.deepEqual(await idem.claim('b', 60_000), { status: 'claimed' });

  // Over the rate limit: refused before anything is claimed or taken.
  await ask('c1', 'send:u', 2);
  await ask('c2', 'send:u', 2);
  const third = await ask('c3', 'send:u', 2);
  assert.ok('wait' in third && third.wait > 0 && third.wait <= 1000, JSON.stringify(third));
  assert.equal(await seq.current(ch), 5, 'the refused send took no id');
  assert.deepEqual(await idem.claim('c3', 60_000), { status: 'claimed' }, 'and holds no claim');
});
