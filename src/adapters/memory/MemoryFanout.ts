import type { ChatEvent } from '../../domain/events.js';
import type { Fanout } from '../../ports/Fanout.js';
import { TopicHandlers } from '../TopicHandlers.js';

/**
 * In-process fan-out. Handlers run synchronously in publish order, so one node
 * on its own gets ordered, lossless delivery. A throwing handler is isolated.
 */
export class MemoryFanout implements Fanout {
  private readonly local = new TopicHandlers();

  async publish(topic: string, event: ChatEvent) {
    this.local.dispatch(topic, event);
  }

  subscribe(topic: string, handler: (e: ChatEvent) => void) {
    return this.local.add(topic, handler);
  }

  async subscribed() {}

  /** In-process delivery never loses events: the handler is never called. */
  onReset(_handler: () => void) {
    return () => {};
  }

  subscriptionCount() {
    return this.local.count();
  }

  observeMessages(observer: (subscribers: number) => void) {
    this.local.observer = observer;
  }

  async close() {
    this.local.clear();
  }
}
