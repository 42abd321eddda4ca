import type { Redis } from 'ioredis';
import type { ChatEvent } from '../../domain/events.js';
import type { Fanout } from '../../ports/Fanout.js';
import { guard } from './connect.js';

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
  private readonly handlers = new Map<string, Set<(e: ChatEvent) => void>>();
  private readonly resetHandlers = new Set<() => void>();
  private readonly pending = new Set<Promise<unknown>>();
  private count = 0;
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
    let set = this.handlers.get(topic);
    if (!set) {
      this.handlers.set(topic, (set = new Set()));
      this.track(this.sub.subscribe(this.channel(topic)));
    }
    const h = (e: ChatEvent) => handler(e);
    set.add(h);
    this.count++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.count--;
      set!.delete(h);
      if (set!.size === 0 && this.handlers.get(topic) === set) {
        this.handlers.delete(topic);
        this.track(this.sub.unsubscribe(this.channel(topic)));
      }
    };
  }

  async subscribed() {
    if (this.pending.size) await guard('subscribe', Promise.all([...this.pending]));
  }

  onReset(handler: () => void) {
    this.resetHandlers.add(handler);
    return () => void this.resetHandlers.delete(handler);
  }

  subscriptionCount() {
    return this.count;
  }

  async close() {
    this.handlers.clear();
    this.sub.disconnect();
  }

  private track(p: Promise<unknown>) {
    this.pending.add(p);
    p.catch(() => {}).finally(() => this.pending.delete(p));
  }

  private dispatch(topic: string, payload: Buffer) {
    const set = this.handlers.get(topic);
    if (!set) return;
    let event: ChatEvent;
    try {
      event = JSON.parse(payload.toString()) as ChatEvent;
    } catch {
      return;
    }
    for (const h of [...set]) {
      try {
        h(event);
      } catch {
        /* isolate handlers */
      }
    }
  }
}
