import type { ChatEvent } from '../domain/events.js';

/** A live subscription: `off()` removes it; calls after the first do nothing. */
export interface Subscription {
  off(): void;
}

/**
 * Topic-based publish/subscribe between nodes.
 * Guarantees: events published by one publisher on one topic reach each
 * subscriber in publish order; delivery is at-most-once (a subscriber that is
 * disconnected from the broker misses events and must resync from storage,
 * which is why messages are durable before they are published).
 * Handlers must not throw and must not block: they run on the event loop.
 */
export interface Fanout {
  publish(topic: string, event: ChatEvent): Promise<void>;
  /** The returned subscription's `off()` removes it. */
  subscribe(topic: string, handler: (event: ChatEvent) => void): Subscription;
  /**
   * Resolves once every subscription made so far receives events. A session
   * awaits it before reading the backlog, so nothing falls between the two.
   */
  subscribed(): Promise<void>;
  /**
   * Registers a callback for "events may have been lost" (the broker
   * connection dropped and came back). Sessions then re-read storage.
   */
  onReset(handler: () => void): () => void;
  /** Number of live subscriptions on this node (for leak checks and metrics). */
  subscriptionCount(): number;
  /**
   * Reports, for every message event handed to this node's subscribers, how
   * many of them it reached (the fan-out size metric). One observer; a later
   * call replaces it. Optional: a fan-out without it reports nothing.
   */
  observeMessages?(observer: (subscribers: number) => void): void;
  close(): Promise<void>;
}
