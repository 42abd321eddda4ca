import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { ChatCore } from '../core/ChatCore.js';
import type { Logger } from '../core/logger.js';
import type { Principal } from '../domain/model.js';
import { toStatus } from './errors.js';
import { methodLabels, type Metrics } from './metrics.js';
import { randomUUID } from 'node:crypto';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { assertWellFormed } from './strictDecode.js';
import { PeerResolver } from './peer.js';

/** What every handler gets besides its request. */
export interface Ctx {
  principal: Principal;
  /** The client's address (transport/peer.ts), for per-address limits. */
  peer: string;
}

export interface TransportDeps {
  core: ChatCore;
  log: Logger;
  metrics: Metrics;
  /** Resolves a call's client address (CHAT_TRUSTED_PROXIES); default: the direct peer, no proxy trusted. */
  peers?: PeerResolver;
}

/** What a call without a token gets besides its request. */
export interface OpenCtx {
  /** The client's address (transport/peer.ts), for per-address limits. */
  peer: string;
}

const directPeers = new PeerResolver('');

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

export async function authenticate(core: ChatCore, call: AnyCall): Promise<Principal> {
  const header = call.metadata.get('authorization')[0];
  return core.auth.authenticate(typeof header === 'string' ? header : header?.toString());
}

/** The request id: the client's `x-request-id`, or a new one. It is echoed in logs. */
export function requestId(call: AnyCall): string {
  const v = call.metadata.get('x-request-id')[0];
  return typeof v === 'string' && v.length <= 64 ? v : randomUUID().slice(0, 13);
}

/** Runs a unary call with metrics, a request-scoped log line and status mapping. */
function instrumented<Req extends object, Res>(
  deps: TransportDeps,
  fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    const labels = methodLabels(call.getPath(), 'unary');
    deps.metrics.started.inc(labels);
    const stop = deps.metrics.handling.startTimer(labels);
    const rid = requestId(call as AnyCall);
    (async () => {
      assertWellFormed(call.request);
      return fn(call.request, call);
    })().then(
      (res) => {
        deps.metrics.handled.inc({ ...labels, grpc_code: 'OK' });
        const seconds = stop();
        deps.log.debug({ rid, method: labels.grpc_method, code: 'OK', ms: Math.round(seconds * 1000) }, 'call');
        cb(null, res);
      },
      (e) => {
        const st = toStatus(e, deps.log.child({ rid, method: labels.grpc_method }));
        deps.metrics.handled.inc({ ...labels, grpc_code: Status[st.code] });
        stop();
        deps.log.info({ rid, method: labels.grpc_method, code: Status[st.code], details: st.details }, 'call failed');
        cb(st as ServiceError);
      },
    );
  };
}

/**
 * Wraps a unary use case: authenticates, rejects requests the decoder
 * flagged, and maps any failure to a canonical status.
 */
export function unary<Req extends object, Res>(
  deps: TransportDeps,
  fn: (req: Req, ctx: Ctx) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return instrumented(deps, async (req, call) => {
    const principal = await authenticate(deps.core, call as AnyCall);
    return fn(req, { principal, peer: (deps.peers ?? directPeers).ofCall(call) });
  });
}

/** Like `unary` for calls that need no token (register, login, PickServer); they get the client's address instead. */
export function openUnary<Req extends object, Res>(
  deps: TransportDeps,
  fn: (req: Req, ctx: OpenCtx) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return instrumented(deps, (req, call) => fn(req, { peer: (deps.peers ?? directPeers).ofCall(call) }));
}
