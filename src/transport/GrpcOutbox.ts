import type { ServerWritableStream } from '@grpc/grpc-js';
import { exhausted, type DomainError } from '../domain/errors.js';
import type { SessionEvent } from '../domain/events.js';
import type { Outbox } from '../core/Session.js';
import { encodeEvent } from './mapping.js';
import { toStatus } from './errors.js';
import type { Metrics } from './metrics.js';

/** Process-wide counters of outbound queues (exported as metrics, asserted by tests). */
export const outboxStats = { highWater: 0, slowConsumerCutoffs: 0 };

/**
 * A bounded outbound queue over one grpc-js server stream. Frames go straight
 * to `call.write()` until it returns false; then they wait here for `drain`.
 * Past `limit` queued frames the consumer is too slow: the stream ends with
 * RESOURCE_EXHAUSTED and the device resumes from its cursors, so the server's
 * memory per stream stays bounded whatever the client does.
 */
export class GrpcOutbox implements Outbox {
  private readonly queue: Buffer[] = [];
  private blocked = false;
  private roomWaiters: Array<() => void> = [];
  private done = false;
  private live = false;
  private readonly sentCounter?: { inc(): void };

  constructor(
    private readonly call: ServerWritableStream<unknown, unknown>,
    private readonly limit: number,
    private readonly onDrop: () => void = () => {},
    private readonly metrics?: Metrics,
  ) {
    call.on('drain', () => this.flush());
    this.sentCounter = metrics?.sentCounter(call.getPath(), 'server_stream');
  }

  get closed() {
    return this.done || this.call.cancelled;
  }

  push(ev: SessionEvent): boolean {
    if (this.closed) return false;
    const buf = encodeEvent(ev);
    if (this.metrics) this.count(ev);
    if (!this.blocked && this.queue.length === 0) {
      if (!this.call.write(buf)) this.blocked = true;
      return true;
    }
    if (this.queue.length >= this.limit) {
      outboxStats.slowConsumerCutoffs++;
      this.metrics?.queueDrops.inc();
      this.fail(exhausted(`the client is not reading: more than ${this.limit} frames queued; reconnect with your cursors`));
      this.onDrop();
      return false;
    }
    this.queue.push(buf);
    if (this.queue.length > outboxStats.highWater) outboxStats.highWater = this.queue.length;
    return true;
  }

  hasRoom() {
    return this.closed || this.queue.length < this.limit / 2;
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
    this.wake();
    const st = toStatus(err);
    this.call.emit('error', { code: st.code, details: st.details, metadata: st.metadata });
  }

  /** Ends the stream with OK after what is queued has been written. */
  end() {
    if (this.done) return;
    this.done = true;
    for (const b of this.queue.splice(0)) this.call.write(b);
    this.wake();
    this.call.end();
  }

  /** Wakes replay waiters; call when the stream closes from the client side. */
  release() {
    this.done = true;
    this.queue.length = 0;
    this.wake();
  }

  private count(ev: SessionEvent) {
    this.sentCounter!.inc();
    if (ev.type === 'caughtUp') this.live = true;
    else if (ev.type === 'message') {
      this.metrics!.delivered.inc();
      if (this.live) this.metrics!.latency.observe(Math.max(0, Date.now() - ev.message.sentAtMs) / 1000);
    }
  }

  private flush() {
    this.blocked = false;
    while (this.queue.length && !this.closed) {
      if (!this.call.write(this.queue.shift()!)) {
        this.blocked = true;
        break;
      }
    }
    if (this.hasRoom()) this.wake();
  }

  private wake() {
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const f of w) f();
  }
}
