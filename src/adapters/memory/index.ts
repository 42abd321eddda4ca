import { MemoryAccountStore } from './MemoryAccountStore.js';
import { MemoryChannelStore } from './MemoryChannelStore.js';
import { MemoryCursorStore } from './MemoryCursorStore.js';
import { MemoryFanout } from './MemoryFanout.js';
import { MemoryIdempotencyStore } from './MemoryIdempotencyStore.js';
import { MemoryMessageStore } from './MemoryMessageStore.js';
import { MemoryPresenceStore } from './MemoryPresenceStore.js';
import { MemorySendGate } from './MemorySendGate.js';
import { MemorySequencer } from './MemorySequencer.js';
import { MemorySkippedIds } from './MemorySkippedIds.js';
import { MemoryRateLimiter } from './MemoryRateLimiter.js';
import { MemorySafetyStore } from './MemorySafetyStore.js';

/** Every storage and messaging port in process memory: the embedded default, one node. */
export function memoryPorts() {
  const sequencer = new MemorySequencer();
  const idempotency = new MemoryIdempotencyStore();
  const rateLimiter = new MemoryRateLimiter();
  return {
    accounts: new MemoryAccountStore(),
    channels: new MemoryChannelStore(),
    messages: new MemoryMessageStore(),
    sequencer,
    skipped: new MemorySkippedIds(),
    idempotency,
    sendGate: new MemorySendGate(rateLimiter, idempotency, sequencer),
    cursors: new MemoryCursorStore(),
    fanout: new MemoryFanout(),
    presence: new MemoryPresenceStore(),
    rateLimiter,
    safety: new MemorySafetyStore(),
  };
}
