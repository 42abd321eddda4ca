import { status, type ServerWritableStream } from '@grpc/grpc-js';
import { DomainError } from '../domain/errors.js';
import type { Principal } from '../domain/model.js';
import type { SessionEvent } from '../domain/events.js';
import { codeOf } from './errors.js';
import type { TransportDeps } from './handler.js';
import { methodLabels } from './metrics.js';
import { StreamOutbox } from './StreamOutbox.js';

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
  let finished = false;
  let code = 'OK';
  const cleanups: Array<() => void> = [];
  const labels = methodLabels(call.getPath(), type);
  deps.metrics.started.inc(labels);
  deps.metrics.streams.inc();
  const out = new StreamOutbox(call, deps.core.settings.outboundQueueLimit, encode, () => finish(), deps.metrics, type);
  const finish = () => {
    if (finished) return;
    finished = true;
    if (call.cancelled && code === 'OK') code = 'CANCELLED';
    deps.metrics.streams.dec();
    deps.metrics.handled.inc({ ...labels, grpc_code: code });
    out.release();
    for (const fn of cleanups.splice(0).reverse()) fn();
  };
  for (const ev of ['cancelled', 'close', 'finish', 'error'] as const) call.once(ev, finish);
  const onEnd = (fn: () => void) => (finished ? fn() : void cleanups.push(fn));
  const fail = (e: unknown) => {
    code = status[codeOf(e)] ?? 'UNKNOWN';
    if (!(e instanceof DomainError)) deps.log.error({ err: String(e) }, 'stream failed');
    out.fail(e instanceof DomainError ? e : new DomainError('unavailable', 'the stream failed; reconnect with your cursors'));
    finish();
  };
  return {
    out,
    onEnd,
    fail,
    admit(p) {
      if (finished) return;
      onEnd(deps.core.admitStream(p.userId));
      onEnd(deps.core.bindStream(p, fail));
    },
    get finished() {
      return finished;
    },
  };
}
