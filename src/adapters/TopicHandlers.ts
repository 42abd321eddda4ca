import type { ChatEvent } from '../domain/events.js';
import type { Subscription } from '../ports/Fanout.js';

/**
 * One subscription: its handler, and its topic's set until it is removed. The
 * object is what `subscribe` returns (no closure per subscription: a node
 * holds several per connected device).
 */
class Entry implements Subscription {
  constructor(
    private readonly owner: TopicHandlers,
    readonly topic: string,
    readonly handler: (e: ChatEvent) => void,
    public set: Set<Entry> | undefined,
  ) {}

  off() {
    this.owner.remove(this);
  }
}

/**
 * The local side of every Fanout: handlers per topic, counted, each removable
 * once, and dispatch that isolates a throwing handler. `onFirst`/`onLast`
 * tell a broker-backed adapter when to (un)subscribe the topic upstream.
 */
export class TopicHandlers {
  private readonly topics = new Map<string, Set<Entry>>();
  private n = 0;
  /** Told, for every message event dispatched, how many local handlers it reached (a metric; see Fanout.observeMessages). */
  observer: ((handlers: number) => void) | undefined;

  constructor(
    private readonly onFirst: (topic: string) => void = () => {},
    private readonly onLast: (topic: string) => void = () => {},
  ) {}

  add(topic: string, handler: (e: ChatEvent) => void): Subscription {
    let set = this.topics.get(topic);
    if (!set) {
      this.topics.set(topic, (set = new Set()));
      this.onFirst(topic);
    }
    // An entry per call, so the same handler added twice is two subscriptions.
    const entry = new Entry(this, topic, handler, set);
    set.add(entry);
    this.n++;
    return entry;
  }

  /** Removes a subscription (its `off()`); only the first call counts. */
  remove(entry: Entry) {
    const set = entry.set;
    if (!set) return;
    entry.set = undefined;
    this.n--;
    set.delete(entry);
    if (set.size === 0 && this.topics.get(entry.topic) === set) {
      this.topics.delete(entry.topic);
      this.onLast(entry.topic);
    }
  }

  has(topic: string) {
    return this.topics.has(topic);
  }

  /** Hands the same event object to every handler of the topic, in subscription order. */
  dispatch(topic: string, event: ChatEvent) {
    const set = this.topics.get(topic);
    if (!set) return;
    const entries = [...set];
    for (const entry of entries) {
      try {
        entry.handler(event);
      } catch {
        /* a subscriber's bug must not stop the others */
      }
    }
    if (this.observer && event.type === 'message') this.observer(entries.length);
  }

  count() {
    return this.n;
  }

  /** Topics with at least one handler. */
  topicCount() {
    return this.topics.size;
  }

  clear() {
    this.topics.clear();
  }
}
