import type { ChatEvent } from '../../domain/events.js';
import type { Fanout } from '../../ports/Fanout.js';

/**
 * In-process fan-out. Handlers run synchronously in publish order, so one node
 * on its own gets ordered, lossless delivery. A throwing handler is isolated.
 */
export class MemoryFanout implements Fanout {
  private readonly topics = new Map<string, Set<(e: ChatEvent) => void>>();
  private count = 0;

  async publish(topic: string, event: ChatEvent) {
    const subs = this.topics.get(topic);
    if (!subs) return;
    for (const h of [...subs]) {
      try {
        h(event);
      } catch {
        /* a subscriber's bug must not stop the others */
      }
    }
  }

  subscribe(topic: string, handler: (e: ChatEvent) => void) {
    let subs = this.topics.get(topic);
    if (!subs) this.topics.set(topic, (subs = new Set()));
    const h = (e: ChatEvent) => handler(e);
    subs.add(h);
    this.count++;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.count--;
      subs!.delete(h);
      if (subs!.size === 0 && this.topics.get(topic) === subs) this.topics.delete(topic);
    };
  }

  async subscribed() {}

  /** In-process delivery never loses events. */
  onReset() {
    return () => {};
  }

  subscriptionCount() {
    return this.count;
  }

  async close() {
    this.topics.clear();
  }
}
