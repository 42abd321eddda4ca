import type { ChatEvent } from '../domain/events.js';
import type { Fanout } from '../ports/Fanout.js';

/**
 * Wraps a Fanout to measure fan-out size: how many local subscribers one
 * message event reached. Both adapters dispatch an event to all local
 * handlers synchronously, so counting until the next microtask sees them all.
 */
export function countFanout(inner: Fanout, observe: (size: number) => void): Fanout {
  const counts = new WeakMap<object, number>();
  const seen = (ev: ChatEvent) => {
    if (ev.type !== 'message') return;
    const n = counts.get(ev);
    if (n === undefined) {
      counts.set(ev, 1);
      queueMicrotask(() => observe(counts.get(ev) ?? 1));
    } else counts.set(ev, n + 1);
  };
  return {
    publish: (topic, ev) => inner.publish(topic, ev),
    subscribe: (topic, handler) =>
      inner.subscribe(topic, (ev) => {
        seen(ev);
        handler(ev);
      }),
    subscribed: () => inner.subscribed(),
    onReset: (h) => inner.onReset(h),
    subscriptionCount: () => inner.subscriptionCount(),
    close: () => inner.close(),
  };
}
