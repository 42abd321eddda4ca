import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { ChatCore } from '../core/ChatCore.js';
import type { Logger } from '../core/logger.js';
import type { Principal } from '../domain/model.js';
import { toStatus } from './errors.js';
import { assertWellFormed } from './wire.js';

/** What every handler gets besides its request. */
export interface Ctx {
  principal: Principal;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
}

export interface TransportDeps {
  core: ChatCore;
  log: Logger;
}

type AnyCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;

export async function authenticate(core: ChatCore, call: AnyCall): Promise<Principal> {
  const header = call.metadata.get('authorization')[0];
  return core.auth.authenticate(typeof header === 'string' ? header : header?.toString());
}

export function signalOf(call: AnyCall): AbortSignal {
  const ac = new AbortController();
  if (call.cancelled) ac.abort();
  else (call as ServerUnaryCall<unknown, unknown>).once('cancelled', () => ac.abort());
  return ac.signal;
}

/**
 * Wraps a unary use case: authenticates (unless `open`), rejects requests the
 * decoder flagged, and maps any failure to a canonical status.
 */
export function unary<Req extends object, Res>(
  deps: TransportDeps,
  fn: (req: Req, ctx: Ctx) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    (async () => {
      assertWellFormed(call.request);
      const principal = await authenticate(deps.core, call as AnyCall);
      return fn(call.request, { principal, signal: signalOf(call as AnyCall) });
    })().then(
      (res) => cb(null, res),
      (e) => cb(toStatus(e, deps.log)),
    );
  };
}

/** Like `unary` for calls that need no token (register, login). */
export function openUnary<Req extends object, Res>(
  deps: TransportDeps,
  fn: (req: Req) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void {
  return (call, cb) => {
    (async () => {
      assertWellFormed(call.request);
      return fn(call.request);
    })().then(
      (res) => cb(null, res),
      (e) => cb(toStatus(e, deps.log)),
    );
  };
}
