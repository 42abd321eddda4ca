import { MemoryAccountStore } from '../adapters/memory/MemoryAccountStore.js';
import { MemoryChannelStore } from '../adapters/memory/MemoryChannelStore.js';
import { MemoryCursorStore } from '../adapters/memory/MemoryCursorStore.js';
import { MemoryFanout } from '../adapters/memory/MemoryFanout.js';
import { MemoryIdempotencyStore } from '../adapters/memory/MemoryIdempotencyStore.js';
import { MemoryMessageStore } from '../adapters/memory/MemoryMessageStore.js';
import { MemoryPresenceStore } from '../adapters/memory/MemoryPresenceStore.js';
import { MemorySequencer } from '../adapters/memory/MemorySequencer.js';
import { LogPushNotifier } from '../adapters/push/LogPushNotifier.js';
import { WebhookPushNotifier } from '../adapters/push/WebhookPushNotifier.js';
import { StaticRegistry } from '../adapters/static/StaticRegistry.js';
import type { Ports } from '../core/deps.js';
import type { Logger } from '../core/logger.js';
import type { Config } from './config.js';

/** The one place that chooses adapters. */
export function composePorts(cfg: Config, log: Logger, advertise: string): Ports {
  const push = cfg.CHAT_PUSH === 'webhook' ? new WebhookPushNotifier(cfg.CHAT_PUSH_WEBHOOK_URL!) : new LogPushNotifier(log);
  const registry = new StaticRegistry([{ nodeId: cfg.CHAT_NODE_ID, address: advertise, region: cfg.CHAT_REGION }]);
  switch (cfg.CHAT_STORE) {
    case 'memory':
      return {
        accounts: new MemoryAccountStore(),
        channels: new MemoryChannelStore(),
        messages: new MemoryMessageStore(),
        sequencer: new MemorySequencer(),
        idempotency: new MemoryIdempotencyStore(),
        cursors: new MemoryCursorStore(),
        fanout: new MemoryFanout(),
        presence: new MemoryPresenceStore(),
        push,
        registry,
      };
  }
}
