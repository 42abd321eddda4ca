import { status, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { MembershipChange, type ClientFrame, type SendAck, type SendMessageRequest, type ServerFrame } from '../gen/chat/v1/chat.js';
import { ChatClient } from './ChatClient.js';
import { CursorBook } from './cursors.js';
import { clientError, isRetryableEnd } from './errors.js';
import { EventQueue } from './EventQueue.js';

/** A server frame of the Connect stream. */
export type Frame = NonNullable<ServerFrame['frame']>;

/**
 * What a session yields: every server frame (messages de-duplicated by id,
 * acks of resends that were already confirmed left out), plus its own
 * connection changes.
 */
export type SessionEvent =
  | Frame
  | { $case: 'connecting'; address: string; attempt: number }
  | { $case: 'disconnected'; code: number; details: string; attempt: number };

/** How a session connects, resumes and keeps itself alive. */
export interface SessionOptions {
  /** Where each channel's delivery stands (a CursorBook, or ids per channel); resumed from after every drop. */
  cursors?: CursorBook | Record<string, number>;
  /** Nodes to ask PickServer when the current one is gone (default: the client's first address). */
  seeds?: () => string[];
  /** Heartbeat frame period, ms (0: none). */
  heartbeatMs?: number;
  /** Sends the cursors as an `ack` frame this often, ms (0: only on `ackDelivered()`). */
  ackEveryMs?: number;
  /** Failed (re)connect attempts in a row before the session gives up (default 10). */
  maxAttempts?: number;
  /** Pause before reconnect attempt n (n >= 2), ms. */
  backoffMs?: (attempt: number) => number;
  /** Runs before each (re)connect, e.g. to drop cursors of channels left meanwhile. */
  beforeConnect?: () => Promise<void>;
  /** Pause before resending a send refused with UNAVAILABLE, ms (default 500). */
  resendDelayMs?: number;
  /** Events queued unread before the stream is paused (default 1000). */
  highWaterMark?: number;
}

interface Pending {
  req: SendMessageRequest;
  resolve: (a: SendAck) => void;
  reject: (e: Error) => void;
}

type Duplex = ClientDuplexStream<ClientFrame, ServerFrame>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const defaultBackoff = (n: number) => Math.min(8_000, 125 * 2 ** n) + Math.floor(Math.random() * 250);

/**
 * A Connect session as an async iterable of events. It survives a dropped
 * connection and a `reconnect` frame (node drain): it reconnects (to the node
 * named, else one PickServer chooses), resumes from its cursors (the server
 * replays what was missed, no gap, no repeat) and resends every unacknowledged
 * send with its original client_msg_id, so each send lands exactly once: the
 * server answers a resend with the original message (`duplicate`), and a send
 * already seen in the replay is settled by it. Breaking out of the loop closes
 * the session.
 */
export class ChatSession implements AsyncIterable<SessionEvent> {
  readonly cursors: CursorBook;
  /** Resolves at the first `caught_up`; rejects if the session fails before. */
  readonly ready: Promise<void>;
  /** Reconnects started (after drops and reconnect frames). */
  reconnects = 0;
  /** Reconnect frames followed. */
  moved = 0;
  private readonly pending = new Map<string, Pending>();
  private readonly events: EventQueue<SessionEvent>;
  private readonly seeds: () => string[];
  private readonly timers: NodeJS.Timeout[] = [];
  private stream?: Duplex;
  private attempts = 0;
  private recovering = false;
  private closed = false;
  private settleReady!: (e?: Error) => void;

  constructor(
    private readonly client: ChatClient,
    private readonly opts: SessionOptions,
  ) {
    this.cursors = opts.cursors instanceof CursorBook ? opts.cursors : new CursorBook(opts.cursors ?? {});
    const first = client.address;
    this.seeds = opts.seeds ?? (() => [first]);
    this.events = new EventQueue<SessionEvent>(
      opts.highWaterMark ?? 1000,
      (paused) => (paused ? this.stream?.pause() : this.stream?.resume()),
      () => void this.close(),
    );
    this.ready = new Promise<void>((resolve, reject) => (this.settleReady = (e) => (e ? reject(e) : resolve())));
    this.ready.catch(() => {});
    if (opts.heartbeatMs) this.timers.push(setInterval(() => this.write({ $case: 'heartbeat', heartbeat: {} }), opts.heartbeatMs));
    if (opts.ackEveryMs) this.timers.push(setInterval(() => this.ackDelivered(), opts.ackEveryMs));
    void this.recover(first, true);
  }

  [Symbol.asyncIterator](): AsyncIterator<SessionEvent> {
    return this.events[Symbol.asyncIterator]();
  }

  /** True while a stream is open. */
  get connected(): boolean {
    return this.stream !== undefined;
  }

  /** The node the session uses (or last used). */
  get address(): string {
    return this.client.address;
  }

  /** Sends not yet acknowledged, by client_msg_id (resent after every reconnect). */
  get unacked(): ReadonlyMap<string, SendMessageRequest> {
    return new Map([...this.pending].map(([id, p]) => [id, p.req]));
  }

  /**
   * Sends a message; resolves with its ack once the server has stored it
   * (through drops and node changes), rejects on a permanent refusal
   * (PERMISSION_DENIED, INVALID_ARGUMENT...) or when the session ends first.
   *
   * The first write of a send tells the server it is a first attempt (no
   * earlier copy to look for) when the SDK chose the client_msg_id, or when
   * the caller passes `firstAttempt: true` with an id of its own that it has
   * never sent; resends after a drop never do.
   */
  send(req: { channelId: string; body: string; replyToId?: number; clientMsgId?: string; firstAttempt?: boolean }): Promise<SendAck> {
    const full: SendMessageRequest = { channelId: req.channelId, body: req.body, clientMsgId: req.clientMsgId || randomUUID(), replyToId: req.replyToId };
    const done = new Promise<SendAck>((resolve, reject) => this.pending.set(full.clientMsgId, { req: full, resolve, reject }));
    done.catch(() => {}); // a caller that only watches events must not see an unhandled rejection
    this.write({ $case: 'send', send: { ...full, firstAttempt: !req.clientMsgId || req.firstAttempt === true } });
    return done;
  }

  /** Writes any other frame (typing, read, edit, delete, react...); false when not connected (it is not queued). */
  write(frame: ClientFrame['frame']): boolean {
    if (!this.stream) return false;
    this.stream.write({ frame });
    return true;
  }

  /** Acknowledges delivery up to the cursors that moved since the last ack. */
  ackDelivered() {
    if (!this.stream) return;
    const cursors = this.cursors.takeUnacked();
    if (cursors.length) this.write({ $case: 'ack', ack: { cursors } });
  }

  /** Waits until every send is acknowledged, or `ms` passes; true when none is left. */
  async settled(ms: number): Promise<boolean> {
    for (const deadline = Date.now() + ms; this.pending.size && Date.now() < deadline && !this.closed; ) await sleep(20);
    return this.pending.size === 0;
  }

  /** Ends the session: acks, half-closes the stream (waiting up to 1 s), rejects unconfirmed sends. */
  async close() {
    if (this.closed) return;
    this.ackDelivered();
    this.closed = true;
    const s = this.stream;
    this.stream = undefined;
    if (s) {
      const ended = new Promise<void>((r) => s.on('status', () => r()));
      s.end();
      await Promise.race([ended, sleep(1_000)]);
      s.cancel();
    }
    this.finish();
  }

  private finish(error?: Error) {
    this.closed = true;
    this.timers.forEach(clearInterval);
    this.settleReady(error ?? clientError(status.CANCELLED, 'session closed'));
    for (const p of this.pending.values()) p.reject(error ?? clientError(status.CANCELLED, 'session closed before the send was acknowledged'));
    this.pending.clear();
    this.events.end(error);
  }

  /** One (re)connect cycle at a time: to `target`, else through PickServer, with backoff. */
  private async recover(target?: string, initial = false) {
    if (this.recovering || this.closed) return;
    this.recovering = true;
    if (!initial) this.reconnects++;
    try {
      await this.reconnect(target);
    } catch (e) {
      this.finish(e as Error);
    } finally {
      this.recovering = false;
    }
  }

  private async reconnect(target: string | undefined) {
    const max = this.opts.maxAttempts ?? 10;
    for (let to = target; !this.closed; to = undefined) {
      if (this.attempts >= max) throw clientError(status.UNAVAILABLE, `gave up after ${max} connect attempts`);
      const attempt = ++this.attempts;
      if (!to) await sleep(attempt === 1 ? Math.random() * 100 : (this.opts.backoffMs ?? defaultBackoff)(attempt));
      if (this.closed) return;
      try {
        this.client.retarget(to ?? (await this.pick()));
        await this.opts.beforeConnect?.();
        await this.open(attempt);
        return;
      } catch (e) {
        const code = (e as { code?: number }).code ?? status.UNKNOWN;
        if (!isRetryableEnd(code)) throw e;
        this.events.push({ $case: 'disconnected', code, details: (e as { details?: string }).details ?? String(e), attempt });
      }
    }
  }

  /** The node PickServer chooses, asked to each seed and the current node in turn. */
  private async pick(): Promise<string> {
    let last: unknown;
    for (const seed of new Set([...this.seeds(), this.client.address])) {
      const probe = new ChatClient(seed, { deadlineMs: 3_000 });
      try {
        return (await probe.pickServer()).address;
      } catch (e) {
        last = e;
      } finally {
        probe.close();
      }
    }
    throw last ?? clientError(status.UNAVAILABLE, 'no node to ask');
  }

  private async open(attempt: number) {
    const s = await this.client.openConnect();
    if (this.closed) return void s.cancel();
    this.stream = s;
    this.events.push({ $case: 'connecting', address: this.client.address, attempt });
    s.write({ frame: { $case: 'resume', resume: { cursors: this.cursors.resume() } } });
    for (const p of this.pending.values()) s.write({ frame: { $case: 'send', send: p.req } });
    s.on('data', (f: ServerFrame) => f.frame && this.onFrame(s, f.frame));
    s.on('error', () => {}); // reported once, through 'status'
    s.on('status', (st: StatusObject) => this.onStatus(s, st));
  }

  private onStatus(s: Duplex, st: StatusObject) {
    if (this.stream !== s || this.closed) return;
    this.stream = undefined;
    if (st.code === status.UNAUTHENTICATED && this.client.canRefresh) {
      // Refresh once and reconnect; a signed-out device fails the refresh, which ends the session.
      this.client.refresh().then(
        () => void this.recover(),
        (e) => this.finish(e),
      );
      return;
    }
    if (!isRetryableEnd(st.code)) return this.finish(clientError(st.code, st.details));
    this.events.push({ $case: 'disconnected', code: st.code, details: st.details || 'stream ended', attempt: this.attempts });
    void this.recover();
  }

  private onFrame(s: Duplex, f: Frame) {
    switch (f.$case) {
      case 'message':
        if (!this.onMessage(f.message)) return;
        break;
      case 'sendAck':
        if (!this.onAck(f.sendAck)) return;
        break;
      case 'sendError':
        if (!this.onSendError(s, f.sendError)) return;
        break;
      case 'caughtUp':
        this.cursors.merge(f.caughtUp.cursors);
        this.attempts = 0;
        this.settleReady();
        break;
      case 'membership':
        if (f.membership.userId === this.client.userId && f.membership.change !== MembershipChange.MEMBERSHIP_CHANGE_JOINED)
          this.cursors.drop(f.membership.channelId);
        break;
      case 'reconnect':
        this.events.push(f);
        return this.follow(s, f.reconnect.server?.address);
    }
    this.events.push(f);
  }

  /** False for a repeat. A replayed message that is one of our unacknowledged sends settles it. */
  private onMessage(m: Extract<Frame, { $case: 'message' }>['message']): boolean {
    if (!this.cursors.received(m.channelId, m.id)) return false;
    const p = this.pending.get(m.clientMsgId);
    if (p && p.req.channelId === m.channelId && (!this.client.userId || m.senderUserId === this.client.userId)) {
      this.pending.delete(m.clientMsgId);
      p.resolve({ clientMsgId: m.clientMsgId, channelId: m.channelId, messageId: m.id, sentAtMs: m.sentAtMs, duplicate: true });
    }
    return true;
  }

  /** False for the ack of a send that was already settled (by its replay, or an earlier ack). */
  private onAck(a: SendAck): boolean {
    this.cursors.sent(a.channelId, a.messageId);
    const p = this.pending.get(a.clientMsgId);
    if (!p) return false;
    this.pending.delete(a.clientMsgId);
    p.resolve(a);
    return true;
  }

  /** UNAVAILABLE (storage down, a claim still held): resent later, not reported. Others fail the send. */
  private onSendError(s: Duplex, e: Extract<Frame, { $case: 'sendError' }>['sendError']): boolean {
    const p = this.pending.get(e.clientMsgId);
    if (p && e.code === status.UNAVAILABLE) {
      setTimeout(() => {
        if (this.pending.get(e.clientMsgId) === p && this.stream === s) s.write({ frame: { $case: 'send', send: p.req } });
      }, this.opts.resendDelayMs ?? 500);
      return false;
    }
    if (p) {
      this.pending.delete(e.clientMsgId);
      p.reject(clientError(e.code, e.message));
    }
    return true;
  }

  /** A draining node names where to go: leave its stream and reconnect there. */
  private follow(s: Duplex, address: string | undefined) {
    this.moved++;
    this.ackDelivered();
    this.stream = undefined;
    s.cancel();
    void this.recover(address || undefined);
  }
}
