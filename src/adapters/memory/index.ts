import { MemoryAccountStore } from './MemoryAccountStore.js';
import { MemoryChannelStore } from './MemoryChannelStore.js';
import { MemoryCursorStore } from './MemoryCursorStore.js';
import { MemoryFanout } from './MemoryFanout.js';
import { MemoryIdempotencyStore } from './MemoryIdempotencyStore.js';
import { MemoryMessageStore } from './MemoryMessageStore.js';
import { MemoryPresenceStore } from './MemoryPresenceStore.js';
import { MemorySequencer } from './MemorySequencer.js';
import { MemorySkippedIds } from './MemorySkippedIds.js';
import { MemoryRateLimiter } from './MemoryRateLimiter.js';
import { MemorySafetyStore } from './MemorySafetyStore.js';

/** Every storage and messaging port in process memory: the embedded default, one node. */
export function memoryPorts() {
  return {
    accounts: new MemoryAccountStore(),
    channels: new MemoryChannelStore(),
    messages: new MemoryMessageStore(),
    sequencer: new MemorySequencer(),
    skipped: new MemorySkippedIds(),
    idempotency: new MemoryIdempotencyStore(),
    cursors: new MemoryCursorStore(),
    fanout: new MemoryFanout(),
    presence: new MemoryPresenceStore(),
    rateLimiter: new MemoryRateLimiter(),
    safety: new MemorySafetyStore(),
  };
}
