import { channelTopic, presenceTopic, userTopic, type ChatEvent, type SessionEvent } from '../domain/events.js';
import { DomainError, exhausted } from '../domain/errors.js';
import type { Cursor, Message, Principal } from '../domain/model.js';
import { passSkipped, type IdRange } from '../domain/skipped.js';
import type { Channels } from './Channels.js';
import type { CoreDeps } from './deps.js';
import type { Messaging } from './Messaging.js';
import type { PresenceTracker } from './PresenceTracker.js';
import type { Subscription } from '../ports/Fanout.js';

/**
 * Where a session writes. The transport implements it over a grpc-js stream
 * with a bounded queue that honours `write()` returning false.
 */
export interface Outbox {
  /** Queues an event; false when the bound was exceeded (the outbox has then failed the stream). */
  push(ev: SessionEvent): boolean;
  /** True while the queue is below its low-water mark. */
  hasRoom(): boolean;
  /** Resolves when there is room again or the stream is gone. */
  waitRoom(): Promise<void>;
  fail(err: DomainError): void;
  readonly closed: boolean;
}

interface ChannelState {
  /** Highest message id written to (or skipped for) the device. */
  lastSent: number;
  /** False until the backlog of this channel has been replayed. */
  ready: boolean;
  replayStarted: boolean;
  /** Live messages that arrived before the channel was ready. */
  early: Message[];
  /** Live messages that arrived ahead of a missing id (created at the first such message). */
  ahead?: Map<number, Message>;
  gapTimer?: NodeJS.Timeout;
}

const REPLAY_PAGE = 256;
/** The empty set every session without blocks shares. */
const NONE: ReadonlySet<string> = new Set();
/** Ephemeral events held for a device during its replay. */
const HELD_EPHEMERAL_MAX = 256;

/** Typing, receipts and presence: droppable state, coalesced and dropped before any message is. */
export function isEphemeral(ev: SessionEvent): boolean {
  return ev.type === 'typing' || ev.type === 'receipt' || ev.type === 'delivery' || ev.type === 'presence';
}

/**
 * One connected device. Start-up follows the replay/live handshake: subscribe
 * to live topics first, then read the backlog after the device's cursors,
 * then send `caughtUp`, then release what arrived meanwhile, de-duplicated by
 * id. Per channel, messages reach the device in id order with no gap and no
 * repeat: an id that arrives early is held until the missing one shows up live
 * or, after `gapWaitMs`, is read from storage. The same holds during replay.
 * A missing id is skipped only once the message after it is older than
 * `holeWindowMs` (the longest a send can take): it was then a failed send.
 */
export class Session {
  private readonly states = new Map<string, ChannelState>();
  private readonly subs = new Map<string, Subscription>();
  private readonly contacts = new Set<string>();
  /** Users who blocked this one or whom it blocked: no presence or typing of theirs reaches the device. */
  private hidden: ReadonlySet<string> = NONE;
  /** Channels this session saw the user leave or be removed from: never followed again unless re-joined. */
  private gone?: Set<string>;
  /** Serializes presence-visibility checks after membership changes. */
  private contactCheck: Promise<void> = Promise.resolve();
  private held: SessionEvent[] = [];
  /** Typing, receipts and presence among `held`: dropped past a cap, never a reason to cut the stream. */
  private heldEphemeral = 0;
  /**
   * Sends made on this stream whose ack is still due, by client_msg_id. The
   * ack takes the place of the message's own frame in channel order (see
   * `emit`), so `duplicate` is filled in when the send returns.
   */
  private ownPending?: Map<string, { duplicate: boolean; sends: number }>;
  private earlyCount = 0;
  private caughtUp = false;
  private closed = false;
  /** The handlers of every channel and contact this session follows (one function each, not one per topic). */
  private readonly onChannel = (ev: ChatEvent) => this.onChannelEvent(ev);
  private readonly onPresence = (ev: ChatEvent) => void (ev.type === 'presence' && this.forward(ev));
  private readonly onUser = (ev: ChatEvent) => this.onUserEvent(ev);
  /** This device as the sender of its messages (one object for all its sends). */
  private principal?: Principal;

  constructor(
    private readonly d: CoreDeps,
    private readonly channels: Channels,
    private readonly messaging: Messaging,
    private readonly presence: PresenceTracker,
    readonly userId: string,
    readonly deviceId: string,
    private readonly out: Outbox,
  ) {}

  async start(resume: Cursor[]): Promise<void> {
    await this.presence.connect(this.userId, this.deviceId);
    this.subscribe(userTopic(this.userId), this.onUser);
    this.hidden = await this.channels.blocks.hiddenFrom(this.userId);
    const cursors = await this.messaging.effectiveCursors(this.userId, this.deviceId, resume);
    for (const channelId of cursors.keys()) this.watch(channelId);
    for (const c of await this.channels.contactsOf(this.userId)) this.watchContact(c);
    await this.d.fanout.subscribed();
    for (const [channelId, from] of cursors) {
      if (this.closed) return;
      await this.replay(channelId, from);
    }
    if (this.closed) return;
    this.caughtUp = true;
    this.out.push({ type: 'caughtUp', cursors: this.cursors() });
    const held = this.held;
    this.held = [];
    this.heldEphemeral = 0;
    for (const ev of held) if (!this.out.push(ev)) return;
    await this.presenceSnapshot([...this.contacts]);
  }

  heartbeat() {
    return this.presence.heartbeat(this.userId, this.deviceId);
  }

  /** The session's cursors: what the device has been sent, per channel. */
  cursors(): Cursor[] {
    return [...this.states].map(([channelId, s]) => ({ channelId, lastMessageId: s.lastSent }));
  }

  /** Frames that are not fan-out traffic (send errors, frame errors, reconnect hints). */
  push(ev: SessionEvent) {
    if (!this.closed) this.out.push(ev);
  }

  /**
   * Sends a message from this stream's device. Its `send_ack` comes down this
   * stream in channel order, in place of the message's own frame; a refusal
   * throws (the transport answers it with `send_error`).
   */
  async send(channelId: string, clientMsgId: string, body: string, replyToId?: number, firstAttempt = false) {
    this.expectOwn(clientMsgId);
    try {
      const r = await this.messaging.send(
        (this.principal ??= { kind: 'user', userId: this.userId, deviceId: this.deviceId }),
        channelId,
        clientMsgId,
        body,
        replyToId,
        firstAttempt,
      );
      this.ownSent(r.message, r.duplicate);
      return r;
    } catch (e) {
      this.ownFailed(clientMsgId);
      throw e;
    }
  }

  /** A `send` frame of this stream is being processed: its ack will stand in for the message's frame. */
  private expectOwn(clientMsgId: string) {
    const key = clientMsgId.toLowerCase();
    const pending = (this.ownPending ??= new Map());
    const p = pending.get(key);
    // A resend while the first is still owed its ack: both are counted, so a refused resend does not cancel the first one's ack.
    if (p) p.sends++;
    else pending.set(key, { duplicate: false, sends: 1 });
  }

  /** The send failed: no ack is due for it (the caller writes `send_error`). */
  private ownFailed(clientMsgId: string) {
    const key = clientMsgId.toLowerCase();
    const p = this.ownPending?.get(key);
    if (p && --p.sends <= 0) this.ownPending!.delete(key);
  }

  /**
   * The send returned. Usually the fan-out already brought the message and
   * its ack went out in order; otherwise the message joins the channel's
   * ordered delivery here (the fan-out copy, if it comes, is then dropped by
   * id), so an ack never waits for the broker and never overtakes an earlier
   * message of its channel.
   */
  private ownSent(m: Message, duplicate: boolean) {
    const pending = this.ownPending;
    const p = pending?.get(m.clientMsgId);
    if (!p || !pending || this.closed) return;
    p.duplicate = duplicate;
    let s = this.states.get(m.channelId);
    if (!s && this.gone?.has(m.channelId)) {
      // Stored before the user left or was removed: acknowledge it, but do not follow the channel again.
      pending.delete(m.clientMsgId);
      this.out.push(ackOf(m, duplicate));
      return;
    }
    if (!s) {
      // A channel this session has not followed yet (its join event is still on its way): follow it
      // now if the stored membership agrees (joinLate checks); its replay brings this message.
      this.watch(m.channelId);
      void this.joinLate(m.channelId);
      s = this.states.get(m.channelId)!;
    }
    if (m.id <= s.lastSent) {
      // Already passed (replayed, or skipped as a hole): acknowledge now.
      pending.delete(m.clientMsgId);
      this.out.push(ackOf(m, duplicate));
      return;
    }
    if (!s.ready) {
      s.early.push(m);
      this.earlyCount++;
      return;
    }
    this.ordered(m.channelId, s, m);
  }

  /** Releases every subscription and timer. Idempotent. */
  close() {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs.values()) sub.off();
    this.subs.clear();
    for (const s of this.states.values()) clearTimeout(s.gapTimer);
    this.states.clear();
    void this.presence.disconnect(this.userId, this.deviceId).catch(() => {});
  }

  private subscribe(topic: string, handler: (ev: ChatEvent) => void) {
    if (this.subs.has(topic) || this.closed) return;
    this.subs.set(topic, this.d.fanout.subscribe(topic, handler));
  }

  private unsubscribe(topic: string) {
    this.subs.get(topic)?.off();
    this.subs.delete(topic);
  }

  private watch(channelId: string) {
    if (this.states.has(channelId)) return;
    this.states.set(channelId, { lastSent: 0, ready: false, replayStarted: false, early: [], ahead: undefined, gapTimer: undefined });
    this.subscribe(channelTopic(channelId), this.onChannel);
  }

  private unwatch(channelId: string) {
    const s = this.states.get(channelId);
    if (!s) return;
    clearTimeout(s.gapTimer);
    this.earlyCount -= s.early.length;
    this.states.delete(channelId);
    this.unsubscribe(channelTopic(channelId));
    // Own sends parked here behind a gap are stored: they still get their ack.
    for (const m of [...s.early, ...(s.ahead?.values() ?? [])]) {
      const p = this.ownPending?.get(m.clientMsgId);
      if (p && m.senderUserId === this.userId) {
        this.ownPending!.delete(m.clientMsgId);
        this.out.push(ackOf(m, p.duplicate));
      }
    }
  }

  /** Follows a user's presence; true if they were not followed before. */
  private watchContact(userId: string): boolean {
    if (userId === this.userId || this.contacts.has(userId) || this.hidden.has(userId)) return false;
    this.contacts.add(userId);
    this.subscribe(presenceTopic(userId), this.onPresence);
    return true;
  }

  /** Tells the device where new contacts stand now (after start-up the stream only carries changes). */
  private async presenceSnapshot(userIds: string[]) {
    if (!this.caughtUp || userIds.length === 0) return;
    try {
      for (const presence of await this.d.presence.get(userIds)) this.push({ type: 'presence', presence });
    } catch {
      /* best effort: the next transition corrects it */
    }
  }

  /**
   * A membership went away or a block changed: users who no longer share an
   * accepted channel with this one (or are hidden by a block) stop being
   * followed, and the device is told their presence is hidden; users visible
   * again (an unblock) are followed again, with their presence now.
   */
  private recheckContacts(blocksChanged = false) {
    this.contactCheck = this.contactCheck.then(async () => {
      if (this.closed) return;
      let shared: Set<string>;
      try {
        if (blocksChanged) {
          this.channels.blocks.forget([this.userId]);
          this.hidden = await this.channels.blocks.hiddenFrom(this.userId);
        }
        shared = await this.channels.contactsOf(this.userId);
      } catch {
        return; // best effort: the next membership change checks again
      }
      for (const userId of [...this.contacts]) {
        if (shared.has(userId) || this.closed) continue;
        this.contacts.delete(userId);
        this.unsubscribe(presenceTopic(userId));
        this.forward({ type: 'presence', presence: { userId, online: false, hidden: true, lastActiveAtMs: 0 } });
      }
      await this.presenceSnapshot([...shared].filter((u) => this.watchContact(u)));
    });
  }

  /** Sends the backlog of one channel after `from`, waiting for queue room between frames. */
  private async replay(channelId: string, from: number) {
    const s = this.states.get(channelId);
    if (!s || s.replayStarted) return;
    s.replayStarted = true;
    s.lastSent = from;
    for (;;) {
      const page = await this.d.messages.after(channelId, s.lastSent, REPLAY_PAGE);
      let hole = false;
      for (const m of page) {
        if (!this.out.hasRoom()) await this.out.waitRoom();
        if (this.closed || this.states.get(channelId) !== s) return;
        if (m.id <= s.lastSent) continue;
        if (m.id > s.lastSent + 1 && !this.holeExpired(m)) {
          // An id below m may still be in flight (taken, not yet stored): wait, then read again;
          // unless the sequencer recorded the missing ids as passed over.
          if (!(await this.passSkipped(channelId, s, m.id))) hole = true;
          break;
        }
        if (!this.emit(s, m)) return;
      }
      if (hole) await new Promise((r) => setTimeout(r, this.d.settings.gapWaitMs));
      if (hole || (page.length && page[page.length - 1]!.id > s.lastSent)) continue;
      if (page.length < REPLAY_PAGE) break;
    }
    s.ready = true;
    const early = s.early.sort((a, b) => a.id - b.id);
    s.early = [];
    this.earlyCount -= early.length;
    for (const m of early) this.ordered(channelId, s, m);
  }

  private onChannelEvent(ev: ChatEvent) {
    if (this.closed) return;
    switch (ev.type) {
      case 'message': {
        const s = this.states.get(ev.message.channelId);
        if (!s) return; // not (or no longer) a member
        if (s.ready) return this.ordered(ev.message.channelId, s, ev.message);
        s.early.push(ev.message);
        if (++this.earlyCount > this.d.settings.outboundQueueLimit) {
          this.out.fail(exhausted('too many messages arrived during replay; reconnect with your cursors'));
        }
        return;
      }
      case 'typing':
        if (!this.caughtUp || this.isMe(ev.userId, ev.deviceId) || this.hidden.has(ev.userId)) return;
        return this.forward(ev);
      case 'receipt':
        if (this.isMe(ev.userId, ev.deviceId)) return;
        return this.forward(ev);
      case 'delivery':
        if (ev.userId === this.userId) return;
        return this.forward(ev);
      case 'membership':
        if (ev.userId === this.userId) return; // handled on the user topic
        if (ev.change === 'joined' && this.watchContact(ev.userId)) void this.presenceSnapshot([ev.userId]);
        if (ev.change !== 'joined') this.recheckContacts();
        return this.forward(ev);
      default:
        return;
    }
  }

  private onUserEvent(ev: ChatEvent) {
    if (this.closed) return;
    if (ev.type === 'invited') return this.forward(ev);
    if (ev.type === 'contactsChanged') return this.recheckContacts(true);
    if (ev.type !== 'membership') return;
    if (ev.change === 'joined') {
      this.gone?.delete(ev.channelId);
      if (!this.states.has(ev.channelId)) {
        this.watch(ev.channelId);
        void this.joinLate(ev.channelId);
      }
    } else {
      (this.gone ??= new Set()).add(ev.channelId);
      this.unwatch(ev.channelId);
      this.recheckContacts();
    }
    this.forward(ev);
  }

  /** A channel joined while connected: replay from the device's stored cursor (its join point). */
  private async joinLate(channelId: string) {
    try {
      const [stored, ch] = await Promise.all([this.d.cursors.delivered(this.userId, this.deviceId), this.d.channels.get(channelId, { fresh: true })]);
      if (!ch?.members.some((m) => m.userId === this.userId)) {
        // Not (or no longer) a member by the stored truth: stop following; a parked own send still gets its ack.
        this.unwatch(channelId);
        return;
      }
      const fresh = (ch?.members ?? []).map((m) => m.userId).filter((u) => this.watchContact(u));
      await this.d.fanout.subscribed();
      await this.replay(channelId, stored.get(channelId) ?? 0);
      await this.presenceSnapshot(fresh);
    } catch (e) {
      this.out.fail(e instanceof DomainError ? e : new DomainError('unavailable', 'could not load a joined channel; reconnect'));
    }
  }

  /**
   * The broker may have dropped events: re-read every ready channel after what
   * was sent. The hub calls it on every session when the fan-out says so (one
   * reset handler for the node, not one per session).
   */
  async recover() {
    for (const [channelId, s] of this.states) {
      if (this.closed) return;
      if (!s.ready) continue;
      try {
        const rows = await this.d.messages.after(channelId, s.lastSent, this.d.settings.outboundQueueLimit);
        for (const m of rows) this.ordered(channelId, s, m);
      } catch {
        this.out.fail(new DomainError('unavailable', 'lost contact with the message broker; reconnect with your cursors'));
        return;
      }
    }
  }

  /** Delivers live messages of a ready channel in id order. */
  private ordered(channelId: string, s: ChannelState, m: Message) {
    if (m.id <= s.lastSent) return;
    if (m.id !== s.lastSent + 1) {
      (s.ahead ??= new Map()).set(m.id, m);
      s.gapTimer ??= setTimeout(() => void this.fillGap(channelId, s), this.d.settings.gapWaitMs);
      return;
    }
    this.emit(s, m);
    const ahead = s.ahead;
    if (!ahead) return;
    for (let next = ahead.get(s.lastSent + 1); next; next = ahead.get(s.lastSent + 1)) {
      ahead.delete(next.id);
      this.emit(s, next);
    }
    if (ahead.size === 0 && s.gapTimer) {
      clearTimeout(s.gapTimer);
      s.gapTimer = undefined;
    }
  }

  /** The gap did not close live: read it from storage; ids storage lacks are failed sends. */
  private async fillGap(channelId: string, s: ChannelState) {
    s.gapTimer = undefined;
    const ahead = s.ahead;
    if (this.closed || this.states.get(channelId) !== s || !ahead?.size) return;
    const upTo = Math.max(...ahead.keys());
    let ranges: IdRange[];
    try {
      const [rows, skipped] = await Promise.all([
        this.d.messages.after(channelId, s.lastSent, upTo - s.lastSent),
        this.d.skipped.between(channelId, s.lastSent, upTo),
      ]);
      for (const m of rows) if (m.id > s.lastSent) ahead.set(m.id, m);
      ranges = skipped;
    } catch {
      s.gapTimer = setTimeout(() => void this.fillGap(channelId, s), this.d.settings.gapWaitMs);
      return;
    }
    for (const id of [...ahead.keys()].sort((a, b) => a - b)) {
      const m = ahead.get(id)!;
      if (id <= s.lastSent) {
        ahead.delete(id);
        continue;
      }
      // Ids the sequencer passed over are not coming; any other hole is skipped only once the
      // message after it is older than any send can take: then it is a failed send.
      s.lastSent = passSkipped(ranges, s.lastSent, id);
      if (id > s.lastSent + 1 && !this.holeExpired(m)) break;
      ahead.delete(id);
      this.emit(s, m);
    }
    if (ahead.size) s.gapTimer = setTimeout(() => void this.fillGap(channelId, s), this.d.settings.gapWaitMs);
  }

  /** Moves past ids below `nextId` that the sequencer recorded as passed over; true if it moved. */
  private async passSkipped(channelId: string, s: ChannelState, nextId: number): Promise<boolean> {
    const from = s.lastSent;
    const ranges = await this.d.skipped.between(channelId, from, nextId);
    if (this.states.get(channelId) !== s || s.lastSent !== from) return true;
    s.lastSent = passSkipped(ranges, from, nextId);
    return s.lastSent > from;
  }

  /**
   * An id below `next` that storage lacks is a failed send (never to appear)
   * once `next` is older than the longest a send can take between taking its
   * id and storing it; until then it may still arrive.
   */
  private holeExpired(next: Message) {
    return this.d.now() - next.sentAtMs >= this.d.settings.holeWindowMs;
  }

  /**
   * Writes the next message of a channel. Every device gets every message of
   * its channels, so the stream is a complete, ordered log and the highest id
   * received is an exact cursor. A message sent on this very stream is
   * written as its `send_ack` (the device has the body): one frame, in order.
   */
  private emit(s: ChannelState, m: Message): boolean {
    s.lastSent = m.id;
    // By user, not device: a resend's original may have come from another of the user's devices.
    const pending = this.ownPending;
    if (pending && pending.size !== 0 && m.senderUserId === this.userId) {
      const p = pending.get(m.clientMsgId);
      if (p) {
        pending.delete(m.clientMsgId);
        return this.out.push(ackOf(m, p.duplicate));
      }
    }
    // Reactions (replayed state) carry this user's `me`.
    return this.out.push(m.reactions?.length ? { type: 'message', message: m, viewer: this.userId } : { type: 'message', message: m });
  }

  private forward(ev: SessionEvent) {
    if (this.closed) return;
    if (this.caughtUp) {
      this.out.push(ev);
      return;
    }
    if (isEphemeral(ev)) {
      if (this.heldEphemeral >= HELD_EPHEMERAL_MAX) {
        this.d.counts.ephemeralDropped++;
        return;
      }
      this.heldEphemeral++;
    } else if (this.held.length - this.heldEphemeral >= this.d.settings.outboundQueueLimit) {
      return this.out.fail(exhausted('too many events arrived during replay; reconnect with your cursors'));
    }
    this.held.push(ev);
  }

  private isMe(userId: string, deviceId: string) {
    return userId === this.userId && deviceId === this.deviceId;
  }
}

function ackOf(m: Message, duplicate: boolean): SessionEvent {
  return { type: 'sendAck', clientMsgId: m.clientMsgId, channelId: m.channelId, messageId: m.id, sentAtMs: m.sentAtMs, duplicate };
}
