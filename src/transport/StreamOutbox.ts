import type { ServerWritableStream } from '@grpc/grpc-js';
import { exhausted, type DomainError } from '../domain/errors.js';
import type { SessionEvent } from '../domain/events.js';
import type { Outbox } from '../core/Session.js';
import { toStatus } from './errors.js';
import type { Metrics } from './metrics.js';

/** Ephemeral states waiting in one stream's lane; a new key past this is dropped. */
export const EPHEMERAL_LANE_MAX = 256;

/** The coalescing key of an ephemeral event (typing and receipts per channel and user, presence per user); undefined for the rest. */
function ephemeralKey(ev: SessionEvent): string | undefined {
  switch (ev.type) {
    case 'typing':
      return `t ${ev.channelId} ${ev.userId}`;
    case 'receipt':
      return `r ${ev.channelId} ${ev.userId}`;
    case 'delivery':
      return `d ${ev.channelId} ${ev.userId}`;
    case 'presence':
      return `p ${ev.presence.userId}`;
    default:
      return undefined;
  }
}

/**
 * The bounded outbound queue of every server stream (Connect, Subscribe,
 * WatchPresence). Frames go straight to `call.write()` until it returns
 * false; then they wait here for `drain`.
 *
 * Two lanes. Messages and other log frames queue in order; past `limit` the
 * consumer is too slow: the stream ends with RESOURCE_EXHAUSTED and the device
 * resumes from its cursors, so the server's memory per stream stays bounded.
 * Ephemeral frames (typing, receipts, presence) never count towards that
 * cut-off: while the stream is blocked they wait in a lane that keeps one
 * state per key (the latest), written after the queued frames; when the queue
 * is at or above its low-water mark (half the limit), or the lane is full,
 * they are dropped. Messages are never dropped.
 */
export class StreamOutbox implements Outbox {
  private readonly queue: unknown[] = [];
  /** Created on the first ephemeral state that has to wait (most streams never block). */
  private lane: Map<string, SessionEvent> | undefined;
  private blocked = false;
  private roomWaiters: Array<() => void> = [];
  private done = false;
  private live = false;
  private readonly sentCounter: { inc(): void };
  private readonly counts: Metrics['counts'];

  constructor(
    private readonly call: ServerWritableStream<unknown, unknown>,
    private readonly limit: number,
    /** Turns an event into what `call.write()` takes (pre-encoded bytes or a response object). */
    private readonly encode: (ev: SessionEvent) => unknown,
    private readonly onDrop: () => void = () => {},
    private readonly metrics: Metrics,
    type: 'server_stream' | 'bidi_stream' = 'server_stream',
  ) {
    call.on('drain', () => this.flush());
    this.sentCounter = metrics.sentCounter(call.getPath(), type);
    this.counts = metrics.counts;
  }

  get closed() {
    return this.done || this.call.cancelled;
  }

  push(ev: SessionEvent): boolean {
    if (this.closed) return false;
    const key = ephemeralKey(ev);
    if (key !== undefined) {
      this.pushEphemeral(key, ev);
      return true;
    }
    const frame = this.encode(ev);
    this.count(ev);
    if (!this.blocked && this.queue.length === 0) {
      if (!this.call.write(frame)) this.blocked = true;
      return true;
    }
    if (this.queue.length >= this.limit) {
      this.counts.slowConsumerCutoffs++;
      this.fail(exhausted(`the client is not reading: more than ${this.limit} frames queued; reconnect with your cursors`));
      this.onDrop();
      return false;
    }
    this.queue.push(frame);
    if (this.queue.length > this.counts.outboxHighWater) this.counts.outboxHighWater = this.queue.length;
    return true;
  }

  /** Frames in the queue and ephemeral states in the lane (tests, metrics). */
  get depth() {
    return { queued: this.queue.length, ephemeral: this.lane?.size ?? 0 };
  }

  hasRoom() {
    return this.closed || this.queue.length < this.lowWater;
  }

  waitRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Ends the stream with an error status; queued frames are dropped (the device resumes from its cursor). */
  fail(err: DomainError) {
    if (this.done) return;
    this.done = true;
    this.queue.length = 0;
    this.lane = undefined;
    this.wake();
    const st = toStatus(err);
    this.call.emit('error', { code: st.code, details: st.details, metadata: st.metadata });
  }

  /** Ends the stream with OK after what is queued has been written. */
  end() {
    if (this.done) return;
    this.done = true;
    for (const f of this.queue.splice(0)) this.call.write(f);
    if (this.lane) for (const ev of this.lane.values()) this.writeEphemeral(ev);
    this.lane = undefined;
    this.wake();
    this.call.end();
  }

  /** Wakes replay waiters; call when the stream closes from the client side. */
  release() {
    this.done = true;
    this.queue.length = 0;
    this.lane = undefined;
    this.wake();
  }

  private get lowWater() {
    return this.limit / 2;
  }

  private pushEphemeral(key: string, ev: SessionEvent) {
    if (!this.blocked) {
      if (!this.writeEphemeral(ev)) this.blocked = true;
      return;
    }
    if (this.queue.length >= this.lowWater) {
      this.counts.ephemeralDropped++;
      return;
    }
    const lane = (this.lane ??= new Map());
    if (lane.delete(key)) this.counts.ephemeralCoalesced++;
    else if (lane.size >= EPHEMERAL_LANE_MAX) {
      this.counts.ephemeralDropped++;
      return;
    }
    lane.set(key, ev);
  }

  private writeEphemeral(ev: SessionEvent): boolean {
    this.sentCounter.inc();
    return this.call.write(this.encode(ev));
  }

  private count(ev: SessionEvent) {
    this.sentCounter.inc();
    if (ev.type === 'caughtUp') this.live = true;
    else if (ev.type === 'message') {
      this.metrics.delivered.inc();
      if (this.live) this.metrics.latency.observe(Math.max(0, Date.now() - ev.message.sentAtMs) / 1000);
    }
  }

  /** Writes the queue, then the ephemeral lane (latest states, after the frames queued before them). */
  private flush() {
    this.blocked = false;
    while (this.queue.length && !this.closed) {
      if (!this.call.write(this.queue.shift())) {
        this.blocked = true;
        break;
      }
    }
    const lane = this.lane;
    while (!this.blocked && lane?.size && !this.closed) {
      const [key, ev] = lane.entries().next().value as [string, SessionEvent];
      lane.delete(key);
      if (!this.writeEphemeral(ev)) this.blocked = true;
    }
    if (this.hasRoom()) this.wake();
  }

  private wake() {
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const f of w) f();
  }
}
