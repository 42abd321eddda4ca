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
