import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Message } from '../../../src/domain/model.js';
import type { ChannelStore } from '../../../src/ports/ChannelStore.js';
import type { CursorStore } from '../../../src/ports/CursorStore.js';
import type { Fanout } from '../../../src/ports/Fanout.js';
import type { ClaimResult, IdempotencyStore } from '../../../src/ports/IdempotencyStore.js';
import type { MessageStore } from '../../../src/ports/MessageStore.js';
import type { PresenceStore } from '../../../src/ports/PresenceStore.js';
import type { Sequencer } from '../../../src/ports/Sequencer.js';
import type { AccountStore } from '../../../src/ports/AccountStore.js';
import type { RateLimiter } from '../../../src/ports/RateLimiter.js';
import type { Membership } from '../../../src/ports/Registry.js';

/**
 * One contract suite per port. Every adapter runs the same suite through a
 * factory (memory now; Redis and CQL adapters plug in the same way), so a
 * guarantee written in a port's doc comment is checked once for all backends.
 */
export interface Factories {
  name: string;
  /**
   * `bucketSize` asks for a store whose storage partitions hold that many ids
   * (CQL buckets), so paging across partition boundaries is exercised with few
   * messages; adapters without partitions ignore it.
   */
  messages?: (opts?: { bucketSize?: number }) => Promise<MessageStore>;
  sequencer?: () => Promise<Sequencer>;
  /**
   * Sequencers whose counters can be lost or rolled back apart from the
   * history they number (a memory sequencer cannot: its counters die with the
   * memory history): checks that `next` never reissues an id across that.
   */
  sequencerFaults?: (durableMax: (channelId: string) => Promise<number>) => Promise<SequencerUnderFaults>;
  idempotency?: () => Promise<IdempotencyStore>;
  cursors?: () => Promise<CursorStore>;
  channels?: () => Promise<ChannelStore>;
  accounts?: () => Promise<AccountStore>;
  presence?: () => Promise<PresenceStore>;
  fanout?: () => Promise<Fanout>;
  rateLimiter?: () => Promise<RateLimiter>;
  /** Two members of one cluster: separate instances (as on two nodes) over one shared backend. */
  registry?: () => Promise<[Membership, Membership]>;
}

/** A sequencer over durable history (`durableMax`, owned by the test) plus the faults its backend can have. */
export interface SequencerUnderFaults {
  sequencer: Sequencer;
  /** Another instance over the same backend, as on another node. */
  peer: () => Promise<Sequencer>;
  /** How far past durable history a counter the backend lost or rolled back is moved. */
  margin: number;
  /** The backend forgets the channel's counter (FLUSHALL, a restart without persistence). */
  lose: (channelId: string) => Promise<void>;
  /**
   * Captures the channel's counter as it is now; the returned function brings
   * it back the way a restart from a snapshot taken now (or a failover to a
   * replica that stopped replicating now) would.
   */
  snapshot: (channelId: string) => Promise<() => Promise<void>>;
}

/** Registries converge asynchronously: poll until `ok`, failing after `ms`. */
export async function eventually(what: string, ok: () => Promise<boolean>, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Awaits `p`, asserting it settled without waiting on any I/O: before the event loop's next
 * check phase (a call to a server, even over loopback, answers no sooner). A wall-clock bound
 * here measured the box's scheduling jitter instead (one 50 ms stall of a loaded CI machine).
 */
export async function answeredAtOnce<T>(p: Promise<T>, what: string): Promise<T> {
  let settled = false;
  const v = p.finally(() => {
    settled = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.ok(settled, what);
  return v;
}

export const chan = () => 'g_' + randomUUID().replaceAll('-', '');
export const user = () => 'u_' + randomUUID().replaceAll('-', '');
export const msg = (channelId: string, id: number, body = `m${id}`): Message => ({
  channelId,
  id,
  senderUserId: 'u_1',
  senderDeviceId: 'd',
  clientMsgId: randomUUID(),
  body,
  sentAtMs: 1000 + id,
  kind: 'user',
});
/** A claim result without the store's `unvouched` note (what the contract fixes for every store). */
export function only(c: ClaimResult) {
  if (c.status !== 'claimed') return c;
  const { unvouched: _, ...rest } = c;
  return rest;
}
