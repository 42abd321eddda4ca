import type { ChatEvent } from '../domain/events.js';

/** One subscription: its handler, and its topic's set until it is removed. */
type Entry = { handler: (e: ChatEvent) => void; set: Set<Entry> | undefined };

/**
 * The local side of every Fanout: handlers per topic, counted, each removable
 * once, and dispatch that isolates a throwing handler. `onFirst`/`onLast`
 * tell a broker-backed adapter when to (un)subscribe the topic upstream.
 */
export class TopicHandlers {
  private readonly topics = new Map<string, Set<Entry>>();
  private n = 0;

  constructor(
    private readonly onFirst: (topic: string) => void = () => {},
    private readonly onLast: (topic: string) => void = () => {},
  ) {}

  add(topic: string, handler: (e: ChatEvent) => void): () => void {
    let set = this.topics.get(topic);
    if (!set) {
      this.topics.set(topic, (set = new Set()));
      this.onFirst(topic);
    }
    // An entry per call, so the same handler added twice is two subscriptions; one closure removes it.
    const entry: Entry = { handler, set };
    set.add(entry);
    this.n++;
    return () => this.remove(topic, entry);
  }

  private remove(topic: string, entry: Entry) {
    const set = entry.set;
    if (!set) return;
    entry.set = undefined;
    this.n--;
    set.delete(entry);
    if (set.size === 0 && this.topics.get(topic) === set) {
      this.topics.delete(topic);
      this.onLast(topic);
    }
  }

  has(topic: string) {
    return this.topics.has(topic);
  }

  /** Hands the same event object to every handler of the topic, in subscription order. */
  dispatch(topic: string, event: ChatEvent) {
    const set = this.topics.get(topic);
    if (!set) return;
    for (const entry of [...set]) {
      try {
        entry.handler(event);
      } catch {
        /* a subscriber's bug must not stop the others */
      }
    }
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
