import { status, type ServerDuplexStream, type ServerWritableStream } from '@grpc/grpc-js';
import { encodeEvent } from './mapping.js';
import { openServerStream, type ServerStream } from './serverStream.js';
import type { StreamOutbox } from './StreamOutbox.js';
import type { Session } from '../core/Session.js';
import { DomainError, deadline, invalid } from '../domain/errors.js';
import { isUser, type Principal } from '../domain/model.js';
import type { ClientFrame, ServerFrame, SubscribeRequest } from '../gen/chat/v1/chat.js';
import { codeOf, toStatus } from './errors.js';
import { authenticate, type TransportDeps } from './handler.js';
import { fromProtoCursors } from './mapping.js';
import { assertWellFormed } from './strictDecode.js';

/** Inbound frames waiting for processing before we stop reading the socket. */
const INBOUND_HIGH = 64;
const INBOUND_LOW = 16;

type Stream = ServerWritableStream<unknown, ServerFrame>;

/**
 * A device session over a server stream (the shared server-stream path plus
 * the session): the session starts on an admitted stream and is ended, with
 * its subscriptions, timers and presence, when the stream ends. A class, not
 * closures: one per connected device, for as long as it stays connected.
 */
class DeviceStream {
  session: Session | undefined;
  private readonly s: ServerStream;

  constructor(
    private readonly deps: TransportDeps,
    call: Stream,
    type: 'server_stream' | 'bidi_stream',
  ) {
    const counts = deps.metrics.counts;
    this.s = openServerStream(deps, call as ServerWritableStream<unknown, unknown>, type, (ev) => encodeEvent(ev, counts));
    this.s.onEnd(() => {
      if (this.session) deps.core.endSession(this.session);
    });
  }

  get out() {
    return this.s.out;
  }

  get fail() {
    return this.s.fail;
  }

  get finished() {
    return this.s.finished;
  }

  admit(p: Extract<Principal, { kind: 'user' }>) {
    this.s.admit(p);
  }

  onEnd(fn: () => void) {
    this.s.onEnd(fn);
  }

  async open(userId: string, deviceId: string, cursors: SubscribeRequest['cursors']) {
    const started = await this.deps.core.openSession(userId, deviceId, this.s.out, fromProtoCursors(cursors));
    if (this.s.finished) this.deps.core.endSession(started);
    else this.session = started;
    return this.session;
  }
}

/** Server-streaming Subscribe: the browser path. Same session as Connect, no client frames. */
export function subscribeHandler(deps: TransportDeps) {
  return (call: ServerWritableStream<SubscribeRequest, ServerFrame>) => {
    const s = new DeviceStream(deps, call as Stream, 'server_stream');
    (async () => {
      assertWellFormed(call.request);
      const p = await authenticate(deps.core, call as ServerWritableStream<unknown, unknown>);
      if (!isUser(p)) throw invalid('Subscribe needs a user token');
      s.admit(p);
      await s.open(p.userId, p.deviceId, call.request.cursors);
    })().catch(s.fail);
  };
}

/** Bidirectional Connect: the native path. Client frames are handled in arrival order. */
export function connectHandler(deps: TransportDeps) {
  return (call: ServerDuplexStream<ClientFrame, ServerFrame>) => {
    const s = new DeviceStream(deps, call as unknown as Stream, 'bidi_stream');
    const { core } = deps;
    let chain: Promise<unknown> | undefined;
    let depth = 0;
    let paused = false;

    const enqueue = (fn: () => Promise<unknown>) => {
      if (++depth > INBOUND_HIGH && !paused) {
        paused = true;
        call.pause();
      }
      chain = chain!
        .then(fn)
        .catch(s.fail)
        .finally(() => {
          if (--depth < INBOUND_LOW && paused) {
            paused = false;
            call.resume();
          }
        });
    };

    // The stream holds a slot of its user from authentication on, and must send resume in time.
    const resumeMs = core.settings.resumeTimeoutMs;
    let timer: NodeJS.Timeout | undefined = setTimeout(
      () => s.fail(deadline(`no resume frame within ${resumeMs} ms: send resume as the first frame`)),
      resumeMs,
    );
    s.onEnd(() => clearTimeout(timer));
    const auth = authenticate(core, call as unknown as ServerWritableStream<unknown, unknown>).then((p) => {
      if (!isUser(p)) throw invalid('Connect needs a user token');
      s.admit(p);
      return p;
    });
    auth.catch(s.fail);

    const received = deps.metrics.receivedCounter(call.getPath(), 'bidi_stream');
    call.on('data', (frame: ClientFrame) => {
      if (s.finished) return;
      received.inc();
      if (!chain) {
        clearTimeout(timer);
        timer = undefined; // not kept for the stream's life
        const resume = frame.frame?.$case === 'resume' ? frame.frame.resume.cursors : [];
        chain = auth.then((p) => {
          assertWellFormed(frame);
          return s.open(p.userId, p.deviceId, resume);
        });
        chain.catch(s.fail);
        if (frame.frame?.$case === 'resume') return;
      }
      enqueue(() => handleFrame(deps, s.session, s.out, frame));
    });
    call.on('end', () => {
      // The client half-closed: finish what it sent, then end the stream cleanly. A chain that
      // failed has already failed the stream (`s.fail`); ending it then is a no-op.
      const end = () => s.out.end();
      (chain ?? Promise.resolve()).then(end, end);
    });
  };
}

/** Over-limit typing frames on a stream are dropped without an answer (the unary SetTyping says RESOURCE_EXHAUSTED). */
const dropIfLimited = (e: unknown) => {
  if (!(e instanceof DomainError && e.kind === 'resource_exhausted')) throw e;
};

async function handleFrame(deps: TransportDeps, session: Session | undefined, out: StreamOutbox, frame: ClientFrame) {
  if (!session) return;
  const { core } = deps;
  const p = { kind: 'user' as const, userId: session.userId, deviceId: session.deviceId };
  const f = frame.frame;
  const kind = f?.$case ?? 'unknown';
  try {
    assertWellFormed(frame);
    switch (f?.$case) {
      case 'send': {
        const cm = f.send.clientMsgId;
        try {
          const r = await session.send(f.send.channelId, cm, f.send.body, f.send.replyToId, f.send.firstAttempt);
          if (!r.duplicate) deps.metrics.accepted.inc();
        } catch (e) {
          session.push({ type: 'sendError', clientMsgId: cm.slice(0, 64), code: codeOf(e), message: toStatus(e, deps.log).details });
        }
        return;
      }
      case 'ack':
        return await core.messaging.ackDelivered(p, fromProtoCursors(f.ack.cursors));
      case 'read':
        return await core.messaging.markRead(p, f.read.channelId, f.read.lastReadMessageId);
      case 'typing':
        return await core.messaging.typing(p, f.typing.channelId, f.typing.typing).catch(dropIfLimited);
      case 'heartbeat':
        return await session.heartbeat();
      // The entry reaches this stream as a `message` frame, in channel order.
      case 'edit':
        return void (await core.lifecycle.edit(p, f.edit.channelId, f.edit.messageId, f.edit.clientMsgId, f.edit.body));
      case 'delete':
        return void (await core.lifecycle.remove(p, f.delete.channelId, f.delete.messageId));
      case 'react':
        return void (await core.lifecycle.react(p, f.react.channelId, f.react.messageId, f.react.emoji, f.react.remove));
      case 'resume':
        throw new DomainError('failed_precondition', 'resume is only accepted as the first frame of a stream');
      default:
        throw invalid('empty client frame');
    }
  } catch (e) {
    if (out.closed) return;
    const code = e instanceof DomainError ? codeOf(e) : status.INTERNAL;
    const message = toStatus(e, deps.log).details;
    // A send is always answered by send_ack or send_error, whatever was wrong with it.
    if (f?.$case === 'send') session.push({ type: 'sendError', clientMsgId: f.send.clientMsgId.slice(0, 64), code, message });
    else session.push({ type: 'frameError', frame: kind, code, message });
  }
}
