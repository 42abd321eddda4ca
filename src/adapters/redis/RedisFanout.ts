import { randomBytes } from 'node:crypto';
import type { ChatEvent } from '../../domain/events.js';
import type { Fanout } from '../../ports/Fanout.js';
import { guard, type RedisClient } from './connect.js';
import { partitionOf } from './partition.js';
import { TopicHandlers } from '../TopicHandlers.js';

/**
 * Cross-node fan-out over Redis pub/sub, in one of two wirings:
 *
 * - classic (`partitions` = 0, a single Redis): one Redis channel per topic
 *   (`<prefix>ev:<topic>`), one SUBSCRIBE per topic any local session wants.
 * - partitioned (`partitions` > 0, required on Redis Cluster): topics are
 *   hashed onto a fixed number of sharded channels `<prefix>ps:{f<n>}`; a
 *   message carries its topic (`<topic>\n<json>`). A node SSUBSCRIBEs to a
 *   partition while any local session wants a topic in it, so it holds at most
 *   `partitions` subscriptions whatever the number of topics; each partition's
 *   hash tag puts it on one slot, so an SPUBLISH touches one shard only (classic
 *   PUBLISH on a cluster is broadcast to every node). The price: a node also
 *   receives the other topics of a partition it listens to and drops them
 *   after reading the topic, before decoding anything.
 *
 * Either way an event is decoded once per node and the same object handed to
 * every local handler (so transports can encode it once).
 *
 * The publishing node's own subscribers get the event at once, in `publish`,
 * as on the in-memory fan-out: not after a Redis round trip, and without
 * decoding it. Every payload ends with the publishing node's tag
 * (`,"o":"<tag>"}`, one more JSON field, which nodes without this code
 * ignore); a node drops the copy Redis sends back to it by comparing the
 * payload's last bytes with its own tag. A payload without a tag (from an
 * older node) is delivered as before.
 *
 * Delivery guarantee: pub/sub is at-most-once. Events from one publisher
 * connection arrive in publish order; events from several nodes may
 * interleave, which sessions repair by id. Messages are durable before they
 * are published, so anything missed is recovered from storage: sessions fill
 * id gaps after `gapWaitMs`, and after a subscriber connection was lost and
 * came back (a Redis restart, a shard's failover) `onReset` handlers re-read
 * storage.
 */
export class RedisFanout implements Fanout {
  private readonly local = new TopicHandlers(
    (topic) => this.track(this.listen(topic)),
    (topic) => this.track(this.unlisten(topic)),
  );
  private readonly resetHandlers = new Set<() => void>();
  private readonly pending = new Set<Promise<unknown>>();
  /** Partitioned wiring: local topics per partition; the partition is subscribed while its count is > 0. */
  private readonly perPartition = new Map<number, { topics: number; ready: Promise<unknown> }>();
  private lost = false;
  /** The last bytes of every payload this node publishes (see the class comment). */
  private readonly ownTag = Buffer.from(`,"o":"${randomBytes(9).toString('base64url')}"}`);
  private readonly ownTagText = this.ownTag.toString();

  constructor(
    private readonly pub: RedisClient,
    private readonly sub: RedisClient,
    private readonly prefix = 'chat:',
    private readonly partitions = 0,
  ) {
    const cut = prefix.length + 3;
    sub.on('messageBuffer', (channel: Buffer, payload: Buffer) => this.dispatch(channel.toString().slice(cut), payload));
    sub.on('smessageBuffer', (_channel: Buffer, payload: Buffer) => this.dispatchTagged(payload));
    this.watchConnection();
  }

  /** Calls the reset handlers once the subscriber is back after losing a connection (events published meanwhile are gone). */
  private watchConnection() {
    const reset = () => {
      if (!this.lost) return;
      this.lost = false;
      for (const h of this.resetHandlers) h();
    };
    // A single Redis: ioredis re-subscribes on 'ready' by itself.
    let hadConnection = this.sub.status === 'ready';
    this.sub.on('ready', () => {
      this.lost ||= hadConnection;
      hadConnection = true;
      reset();
    });
    // A cluster: a shard's subscriber connection ended (its master died, or
    // the slots moved); ioredis then connects to the shard's new master,
    // subscribes again and says 'subscribersReady'.
    const lose = () => void (this.lost = true);
    this.sub.on('-node', lose);
    this.sub.on('-subscriber', lose);
    this.sub.on('subscribersReady', reset);
  }

  private channel(topic: string) {
    return `${this.prefix}ev:${topic}`;
  }

  private partitionChannel(n: number) {
    return `${this.prefix}ps:{f${n}}`;
  }

  private listen(topic: string): Promise<unknown> {
    if (!this.partitions) return this.sub.subscribe(this.channel(topic));
    const n = partitionOf(topic, this.partitions);
    const part = this.perPartition.get(n);
    if (part) {
      part.topics++;
      return part.ready; // a later topic of the partition is live once the partition's SSUBSCRIBE is
    }
    const ready = this.sub.ssubscribe(this.partitionChannel(n));
    this.perPartition.set(n, { topics: 1, ready });
    return ready;
  }

  private unlisten(topic: string): Promise<unknown> {
    if (!this.partitions) return this.sub.unsubscribe(this.channel(topic));
    const n = partitionOf(topic, this.partitions);
    const part = this.perPartition.get(n);
    if (part && --part.topics > 0) return Promise.resolve();
    this.perPartition.delete(n);
    return this.sub.sunsubscribe(this.partitionChannel(n));
  }

  async publish(topic: string, event: ChatEvent) {
    const json = JSON.stringify(event);
    // Every event is an object with at least its type: the tag replaces the closing brace.
    const tagged = json.slice(0, -1) + this.ownTagText;
    const sent = this.partitions
      ? this.pub.spublish(this.partitionChannel(partitionOf(topic, this.partitions)), `${topic}\n${tagged}`)
      : this.pub.publish(this.channel(topic), tagged);
    // Out to the other nodes first, then to this node's own subscribers.
    this.local.dispatch(topic, event);
    await guard('publish', sent);
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

  observeMessages(observer: (subscribers: number) => void) {
    this.local.observer = observer;
  }

  /** Redis subscriptions this node holds (topics, or partitions when partitioned): bounded by `partitions`. */
  upstreamCount() {
    return this.partitions ? this.perPartition.size : this.local.topicCount();
  }

  async close() {
    this.local.clear();
    this.perPartition.clear();
    this.sub.disconnect();
  }

  private track(p: Promise<unknown>) {
    this.pending.add(p);
    p.catch(() => {}).finally(() => this.pending.delete(p));
  }

  /** A partitioned message: its topic is read first, and the rest decoded only if a local session wants it. */
  private dispatchTagged(payload: Buffer) {
    const nl = payload.indexOf(10);
    if (nl < 0) return;
    this.dispatch(payload.toString('utf8', 0, nl), payload.subarray(nl + 1));
  }

  /** Decodes once per node, only for topics someone here still wants, and not this node's own events (delivered in `publish`). */
  private dispatch(topic: string, payload: Buffer) {
    if (!this.local.has(topic)) return;
    const n = this.ownTag.length;
    if (payload.length >= n && this.ownTag.compare(payload, payload.length - n) === 0) return;
    let event: ChatEvent;
    try {
      event = JSON.parse(payload.toString()) as ChatEvent;
    } catch {
      return;
    }
    this.local.dispatch(topic, event);
  }
}
