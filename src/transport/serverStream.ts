import { status, type ServerWritableStream } from '@grpc/grpc-js';
import { DomainError } from '../domain/errors.js';
import type { Principal } from '../domain/model.js';
import type { SessionEvent } from '../domain/events.js';
import { codeOf } from './errors.js';
import type { TransportDeps } from './handler.js';
import { methodLabels } from './metrics.js';
import { StreamOutbox } from './StreamOutbox.js';
import type { StreamSlot } from '../core/SessionHub.js';

/** One server stream of any kind, as its handler sees it. */
export interface ServerStream {
  /** The stream's bounded outbox: every frame goes through it. */
  readonly out: StreamOutbox;
  /** Ends the stream with the failure's status (unknown errors: UNAVAILABLE, logged) and cleans up. */
  fail(e: unknown): void;
  /**
   * Counts the stream against its user's cap until it ends (RESOURCE_EXHAUSTED
   * past the cap), and ends it with UNAUTHENTICATED if its device is revoked.
   */
  admit(p: Extract<Principal, { kind: 'user' }>): void;
  /** Runs `fn` once when the stream ends, however it ends (now, if it has already ended). */
  onEnd(fn: () => void): void;
  readonly finished: boolean;
}

/**
 * The one server-stream path of Connect, Subscribe and WatchPresence: metrics,
 * a bounded outbox honouring `write()` returning false, admission against the
 * user's stream cap, and cleanup that runs exactly once however the stream
 * ends (client cancel, network loss, slow-consumer cut-off, failure, drain).
 */
export function openServerStream(
  deps: TransportDeps,
  call: ServerWritableStream<unknown, unknown>,
  type: 'server_stream' | 'bidi_stream',
  encode: (ev: SessionEvent) => unknown,
): ServerStream {
  return new OpenStream(deps, call, type, encode);
}

/**
 * A class rather than closures over locals: an idle stream is held for as long
 * as its device stays connected, so its per-stream objects count (one object
 * and two arrow-function properties, `finish` and `fail`, here, where closures
 * took a context, six functions and an object literal in dictionary mode).
 */
class OpenStream implements ServerStream {
  readonly out: StreamOutbox;
  finished = false;
  private code = 'OK';
  private cleanups: Array<() => void> | undefined;
  /** The user's stream slot, from `admit` until the stream ends. */
  private slot: StreamSlot | undefined;
  private readonly labels: Record<string, string>;

  constructor(
    private readonly deps: TransportDeps,
    private readonly call: ServerWritableStream<unknown, unknown>,
    type: 'server_stream' | 'bidi_stream',
    encode: (ev: SessionEvent) => unknown,
  ) {
    this.labels = methodLabels(call.getPath(), type);
    deps.metrics.started.inc(this.labels);
    deps.metrics.streams.inc();
    this.out = new StreamOutbox(call, deps.core.settings.outboundQueueLimit, encode, this.finish, deps.metrics, type);
    // `on`, not `once`: `finish` runs its body once anyway, and `once` would add a wrapper object and a bound function per event and stream.
    for (const ev of ['cancelled', 'close', 'finish', 'error'] as const) call.on(ev, this.finish);
  }

  private readonly finish = () => {
    if (this.finished) return;
    this.finished = true;
    if (this.call.cancelled && this.code === 'OK') this.code = 'CANCELLED';
    this.deps.metrics.streams.dec();
    this.deps.metrics.handled.inc({ ...this.labels, grpc_code: this.code });
    this.out.release();
    this.slot?.release();
    const fns = this.cleanups;
    this.cleanups = undefined;
    if (fns) for (let i = fns.length - 1; i >= 0; i--) fns[i]!();
  };

  onEnd(fn: () => void) {
    if (this.finished) fn();
    else (this.cleanups ??= []).push(fn);
  }

  /** A property, not a method: handlers pass it around unbound (`.catch(s.fail)`). */
  readonly fail = (e: unknown) => {
    this.code = status[codeOf(e)] ?? 'UNKNOWN';
    if (!(e instanceof DomainError)) this.deps.log.error({ err: String(e) }, 'stream failed');
    this.out.fail(e instanceof DomainError ? e : new DomainError('unavailable', 'the stream failed; reconnect with your cursors'));
    this.finish();
  };

  admit(p: Extract<Principal, { kind: 'user' }>) {
    if (this.finished || this.slot) return;
    this.slot = this.deps.core.admitStream(p, this.fail);
  }
}
