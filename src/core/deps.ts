import type { SendGate } from '../ports/SendGate.js';
import type { Limits } from '../domain/rules.js';
import type { AccountStore } from '../ports/AccountStore.js';
import type { ChannelStore } from '../ports/ChannelStore.js';
import type { CursorStore } from '../ports/CursorStore.js';
import type { Fanout } from '../ports/Fanout.js';
import type { IdempotencyStore } from '../ports/IdempotencyStore.js';
import type { MessageStore } from '../ports/MessageStore.js';
import type { PresenceStore } from '../ports/PresenceStore.js';
import type { PushNotifier } from '../ports/PushNotifier.js';
import type { Registry } from '../ports/Registry.js';
import type { Sequencer } from '../ports/Sequencer.js';
import type { SkippedIds } from '../ports/SkippedIds.js';
import type { RateLimiter } from '../ports/RateLimiter.js';
import type { SafetyStore } from '../ports/SafetyStore.js';
import type { Logger } from './logger.js';

/** Every port the use cases need, chosen by the composition root (app/compose.ts). */
export interface Ports {
  accounts: AccountStore;
  channels: ChannelStore;
  messages: MessageStore;
  sequencer: Sequencer;
  skipped: SkippedIds;
  idempotency: IdempotencyStore;
  cursors: CursorStore;
  fanout: Fanout;
  presence: PresenceStore;
  push: PushNotifier;
  registry: Registry;
  rateLimiter: RateLimiter;
  safety: SafetyStore;
  /** Rate limit, claim and next id in one request, where the backend can (see SendGate); else the three ports in turn. */
  sendGate?: SendGate;
}

/** Tunables of the use cases (a subset of app config). */
export interface CoreSettings extends Limits {
  nodeId: string;
  presenceTimeoutMs: number;
  heartbeatIntervalMs: number;
  idempotencyTtlMs: number;
  /** How long a session waits for a missing id before reading it from storage. */
  gapWaitMs: number;
  /** After this long a missing id is a failed send, not one still in flight (longer than the slowest store write). */
  holeWindowMs: number;
  /** Frames buffered for one device stream before it is cut off as a slow consumer. */
  outboundQueueLimit: number;
  /** Sends per user per second (cluster-wide token bucket) and the burst allowed above it. */
  sendRatePerSec: number;
  sendBurst: number;
  /** Typing updates per user per second (local, then cluster-wide token bucket) and the burst above it. */
  typingRatePerSec: number;
  typingBurst: number;
  /** Read marks and delivery acks per user per second, each; past it only the latest is applied, later. */
  markRatePerSec: number;
  markBurst: number;
  /** Login attempts per user name per minute. */
  loginAttemptsPerMin: number;
  maxChannelsPerUser: number;
  /** Open server streams (Connect, Subscribe, WatchPresence) per user on one node. */
  maxStreamsPerUser: number;
  /** How long a Connect may wait before its first frame (resume). */
  resumeTimeoutMs: number;
  /** How long after sending a message its sender may edit it (default 48 h). */
  editWindowMs?: number;
  /** invite: a stranger's add or direct channel is an invitation until accepted; open: added at once (before consent existed). */
  consent: 'invite' | 'open';
  /** Pending invitations per invitee; a new one past it drops the oldest. */
  maxPendingInvites: number;
  /** Invitations a user may send per minute (cluster-wide token bucket) and the burst above it. */
  inviteRatePerMin: number;
  inviteBurst: number;
  /** How long a node keeps a user's block lists (invalidated over the fan-out at once; this bounds a lost invalidation). */
  blockCacheMs: number;
}

/**
 * Running totals of ephemeral frames (typing, receipts, presence) not
 * delivered: refused at the sender's rate (`ephemeralLimited`), replaced in a
 * reader's queue by a newer state of the same key (`ephemeralCoalesced`), or
 * dropped because the reader was behind (`ephemeralDropped`). One object per
 * node, owned by its metrics (exported as `chat_ephemeral_dropped_total`).
 */
export interface EphemeralCounts {
  ephemeralLimited: number;
  ephemeralCoalesced: number;
  ephemeralDropped: number;
}

export const newEphemeralCounts = (): EphemeralCounts => ({ ephemeralLimited: 0, ephemeralCoalesced: 0, ephemeralDropped: 0 });

export interface CoreDeps extends Ports {
  settings: CoreSettings;
  log: Logger;
  now: () => number;
  /** Where the use cases count what they drop (the node's metrics). */
  counts: EphemeralCounts;
}

/** What ChatCore is built from: `counts` may be left out (a private object then). */
export type CoreInput = Omit<CoreDeps, 'counts'> & { counts?: EphemeralCounts };
