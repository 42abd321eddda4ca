import type { Redis } from 'ioredis';
import type { ChatEvent } from '../../domain/events.js';
import type { Fanout } from '../../ports/Fanout.js';
import { guard } from './connect.js';
import { TopicHandlers } from '../TopicHandlers.js';

/**
 * Cross-node fan-out over Redis pub/sub. Each node holds one subscriber
 * connection and one Redis subscription per topic that any local session
 * wants; an event is decoded once per node and the same object handed to
 * every local handler (so transports can encode it once).
 *
 * Delivery guarantee: pub/sub is at-most-once. Events from one publisher
 * connection arrive in publish order; events from several nodes may
 * interleave, which sessions repair by id. Messages are durable before they
 * are published, so anything missed is recovered from storage: sessions fill
 * id gaps after `gapWaitMs`, and after a subscriber reconnect `onReset`
 * handlers re-read storage.
 */
export class RedisFanout implements Fanout {
  private readonly local = new TopicHandlers(
    (topic) => this.track(this.sub.subscribe(this.channel(topic))),
    (topic) => this.track(this.sub.unsubscribe(this.channel(topic))),
  );
  private readonly resetHandlers = new Set<() => void>();
  private readonly pending = new Set<Promise<unknown>>();
  private hadConnection = false;

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly prefix = 'chat:',
  ) {
    sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => this.dispatch(channel.toString().slice(this.prefix.length + 3), payload));
    sub.on('ready', () => {
      // ioredis re-subscribes by itself; events published meanwhile are gone.
      if (this.hadConnection) for (const h of this.resetHandlers) h();
      this.hadConnection = true;
    });
    this.hadConnection = sub.status === 'ready';
  }

  private channel(topic: string) {
    return `${this.prefix}ev:${topic}`;
  }

  async publish(topic: string, event: ChatEvent) {
    await guard('publish', this.pub.publish(this.channel(topic), JSON.stringify(event)));
  }

  subscribe(topic: string, handler: (e: ChatEvent) => void) {
    return this.local.add(topic, handler);
  }

  async subscribed() {
    if (this.pending.size) await guard('subscribe', Promise.all([...this.pending]));
  }

  onReset(handler: () => void) {
    this.resetHandlers.add(handler);
    return () => void this.resetHandlers.delete(handler);
  }

  subscriptionCount() {
    return this.local.count();
  }

  async close() {
    this.local.clear();
    this.sub.disconnect();
  }

  private track(p: Promise<unknown>) {
    this.pending.add(p);
    p.catch(() => {}).finally(() => this.pending.delete(p));
  }

  /** Decodes once per node, only for topics someone here still wants. */
  private dispatch(topic: string, payload: Buffer) {
    if (!this.local.has(topic)) return;
    let event: ChatEvent;
    try {
      event = JSON.parse(payload.toString()) as ChatEvent;
    } catch {
      return;
    }
    this.local.dispatch(topic, event);
  }
}
