import { channelTopic } from '../domain/events.js';
import { DomainError, denied, exhausted, invalid, unavailable } from '../domain/errors.js';
import { checkChannelId, checkClientMsgId, checkMessageId } from '../domain/ids.js';
import type { Channel, Cursor, Message, Principal } from '../domain/model.js';
import { checkBody } from '../domain/rules.js';
import { checkTarget, isEntry } from '../domain/lifecycle.js';
import { requireUser, type Channels } from './Channels.js';
import type { CoreDeps } from './deps.js';
import type { ClaimResult } from '../ports/IdempotencyStore.js';
import { EphemeralLimits } from './EphemeralLimits.js';

export interface SendResult {
  message: Message;
  duplicate: boolean;
}

const SYNC_MAX = 1000;
const HISTORY_DEFAULT = 50;
const HISTORY_MAX = 500;
/** Channels one waiting (merged) ack may hold. */
const MERGED_CURSORS_MAX = 1000;

/**
 * Sending, reading and syncing messages. The send path is: validate, claim the
 * client_msg_id, take the next channel id, store durably, then acknowledge and
 * publish. Nothing is acknowledged before it is durable, and a retry with the
 * same client_msg_id returns the stored original.
 */
export class Messaging {
  /** Per-user rates of typing, read and delivery marks (ephemeral signals). */
  readonly ephemeral: EphemeralLimits;

  constructor(
    private readonly d: CoreDeps,
    private readonly channels: Channels,
    /** True when the user has a stream open on this node (then they are online: no presence lookup). */
    private readonly connectedHere: (userId: string) => boolean = () => false,
  ) {
    const { typingRatePerSec, typingBurst, markRatePerSec, markBurst } = d.settings;
    this.ephemeral = new EphemeralLimits(d.rateLimiter, { typingRatePerSec, typingBurst, markRatePerSec, markBurst }, d.log, d.counts);
  }

  // One handler for every send, instead of a closure per send.
  private readonly completeFailed = (e: unknown) => this.d.log.error({ err: e }, 'idempotency complete failed');

  private inflight = 0;
  private idleWaiters: Array<() => void> = [];

  /** Resolves when no send is in progress (drain waits for it before the process exits). */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** `replyToId`: a message of the same channel this one answers (NOT_FOUND if there is none). */
  /** `firstAttempt`: the client says it never sent this client_msg_id before (see SendMessageRequest.first_attempt). */
  async send(p: Principal, channelId: string, clientMsgIdRaw: string, body: string, replyToId?: number, firstAttempt = false): Promise<SendResult> {
    this.inflight++;
    try {
      return await this.sendOnce(p, channelId, clientMsgIdRaw, body, replyToId || undefined, firstAttempt);
    } finally {
      if (--this.inflight === 0) this.idleWaiters.splice(0).forEach((w) => w());
    }
  }

  private async sendOnce(
    p: Principal,
    channelId: string,
    clientMsgIdRaw: string,
    body: string,
    replyToId: number | undefined,
    firstAttempt: boolean,
  ): Promise<SendResult> {
    checkChannelId(channelId);
    const clientMsgId = checkClientMsgId(clientMsgIdRaw);
    checkBody(body, this.d.settings);
    if (replyToId !== undefined) {
      checkMessageId(replyToId, 'reply_to_id');
      checkTarget(await this.d.messages.get(channelId, replyToId), channelId, replyToId);
    }
    const sender = p.kind === 'user' ? { userId: p.userId, deviceId: p.deviceId } : { userId: `svc:${p.name}`, deviceId: '' };
    const key = `${sender.userId}:${clientMsgId}`;
    const ttl = this.d.settings.idempotencyTtlMs;
    const { sendRatePerSec, sendBurst } = this.d.settings;

    if (this.d.sendGate && p.kind === 'user') {
      return this.sendGated(p, channelId, clientMsgId, body, replyToId, firstAttempt, sender, key);
    }
    // Membership, the rate limit and the claim do not depend on each other: they
    // run together (on Redis, one pipelined round trip instead of three). A send
    // refused by the first two gives its claim back.
    const [member, wait, claimed] = await Promise.allSettled([
      this.channels.writable(p, channelId),
      p.kind === 'user' ? this.d.rateLimiter.take(`send:${p.userId}`, sendRatePerSec, sendBurst) : 0,
      this.d.idempotency.claim(key, ttl),
    ]);
    const refuse = async (e: unknown): Promise<never> => {
      // A recovered claim is kept: released, the next retry would not know to look for the dead
      // attempt's message in storage. Held, it is recovered again (and checked) once abandoned.
      if (claimed.status === 'fulfilled' && claimed.value.status === 'claimed' && !claimed.value.recovered) {
        await this.d.idempotency.release(key).catch(() => {});
      }
      throw e;
    };
    if (member.status === 'rejected') return refuse(member.reason);
    if (wait.status === 'rejected') return refuse(wait.reason);
    if (wait.value > 0) return refuse(exhausted(`sending too fast: at most ${sendRatePerSec} messages per second; retry in ${wait.value} ms`, wait.value));
    if (claimed.status === 'rejected') throw claimed.reason;
    const ch = member.value;
    const claim = claimed.value;

    if (mayHaveEarlier(claim, firstAttempt)) {
      const earlier = await this.earlierCopy(claim, sender.userId, clientMsgId, key, refuse);
      if (earlier) return { message: earlier, duplicate: true };
    }
    return this.storeAndPublish(p, channelId, ch, sender, clientMsgId, body, replyToId, key, undefined);
  }

  /**
   * The send path through a SendGate: membership first (a refused send takes
   * nothing), then the rate token, the claim and, for a send that will store a
   * message, the channel's next id, in one request.
   */
  private async sendGated(
    p: Principal & { kind: 'user' },
    channelId: string,
    clientMsgId: string,
    body: string,
    replyToId: number | undefined,
    firstAttempt: boolean,
    sender: { userId: string; deviceId: string },
    key: string,
  ): Promise<SendResult> {
    const ch = await this.channels.writable(p, channelId);
    const { sendRatePerSec, sendBurst, idempotencyTtlMs } = this.d.settings;
    const gate = await this.d.sendGate!.admit({
      rateKey: `send:${p.userId}`,
      perSecond: sendRatePerSec,
      burst: sendBurst,
      claimKey: key,
      ttlMs: idempotencyTtlMs,
      channelId,
      firstAttempt,
    });
    if ('wait' in gate) throw exhausted(`sending too fast: at most ${sendRatePerSec} messages per second; retry in ${gate.wait} ms`, gate.wait);
    // Held by another attempt: the store waits for it to complete or be given up.
    const claim = 'pending' in gate ? await this.d.idempotency.claim(key, idempotencyTtlMs) : gate.claim;
    const id = 'pending' in gate ? undefined : gate.id;
    const refuse = async (e: unknown): Promise<never> => {
      if (claim.status === 'claimed' && !claim.recovered) await this.d.idempotency.release(key).catch(() => {});
      throw e;
    };
    if (mayHaveEarlier(claim, firstAttempt)) {
      const earlier = await this.earlierCopy(claim, sender.userId, clientMsgId, key, refuse);
      if (earlier) return { message: earlier, duplicate: true };
    }
    return this.storeAndPublish(p, channelId, ch, sender, clientMsgId, body, replyToId, key, id);
  }

  /** Stores the new message (under `id` if the gate took it, else the sequencer's next), then completes the claim and publishes. */
  private async storeAndPublish(
    p: Principal,
    channelId: string,
    ch: Channel,
    sender: { userId: string; deviceId: string },
    clientMsgId: string,
    body: string,
    replyToId: number | undefined,
    key: string,
    id: number | undefined,
  ): Promise<SendResult> {
    let message: Message;
    try {
      // The gate's id, else the sequencer's next (ids are unique by the sequencer's guarantee).
      const next = id ?? (await this.d.sequencer.next(ch.id));
      // ch.id: the one string per channel, so records kept per message do not each hold a copy.
      // Fields in the order every store and codec builds them, so all messages share one shape (hidden class).
      message = {
        channelId: ch.id,
        id: next,
        senderUserId: sender.userId,
        senderDeviceId: sender.deviceId,
        clientMsgId,
        body,
        sentAtMs: this.d.now(),
        kind: p.kind === 'user' ? 'user' : 'system',
      };
      if (replyToId) message.replyToId = replyToId;
      await this.d.messages.append(message);
    } catch (e) {
      await this.d.idempotency.release(key).catch(() => {});
      throw asUnavailable(e, 'the message was not stored');
    }
    await this.afterStored(p, channelId, ch, message, key);
    return { message, duplicate: false };
  }

  /**
   * The message of an earlier attempt with this claim, if there is one: the claim is done, or a
   * previous attempt may have stored the message and died holding the claim (recovered), or the
   * store lost its record (unvouched; unless the client says this is its first attempt, so
   * there is no earlier copy to find). Never guess: if storage cannot say, refuse. Called only
   * for a claim that `mayHaveEarlier`.
   */
  private async earlierCopy(
    claim: ClaimResult,
    userId: string,
    clientMsgId: string,
    key: string,
    refuse: (e: unknown) => Promise<never>,
  ): Promise<Message | undefined> {
    if (claim.status === 'done') {
      const original = await this.d.messages.get(claim.channelId, claim.messageId);
      if (!original) throw unavailable('the original of this client_msg_id is not readable right now; retry');
      return original;
    }
    const earlier = await this.d.messages
      .findByClientMsgId(userId, clientMsgId)
      .catch(() => refuse(unavailable('could not check for an earlier copy of this send; retry')));
    if (!earlier) return undefined;
    await this.d.idempotency.complete(key, earlier.channelId, earlier.id, this.d.settings.idempotencyTtlMs).catch(() => {});
    await this.d.fanout.publish(channelTopic(earlier.channelId), { type: 'message', message: earlier }).catch(() => {});
    return earlier;
  }

  /**
   * The message is durable: failures here are logged, never reported as a failed send.
   * The three writes are independent and go out together; then offline members are pushed.
   */
  private async afterStored(p: Principal, channelId: string, ch: Channel, message: Message, key: string): Promise<void> {
    await Promise.all([
      this.d.idempotency.complete(key, channelId, message.id, this.d.settings.idempotencyTtlMs).catch(this.completeFailed),
      p.kind === 'user' ? this.d.cursors.markRead(p.userId, channelId, message.id).catch(ignore) : undefined,
      this.d.fanout
        .publish(channelTopic(channelId), { type: 'message', message })
        .catch((e) => this.d.log.error({ err: e, channelId }, 'publish failed; receivers catch up from storage')),
    ]);
    void this.pushToOffline(ch, message);
  }

  /**
   * Newest first, messages with id < beforeId, each in its current state. Lifecycle entries
   * are left out (the messages already show them), so a page may hold fewer than `limit`
   * messages while `nextBeforeId` still leads on: it costs the same reads as before.
   */
  async history(p: Principal, channelId: string, beforeId: number, limit: number) {
    checkMessageId(beforeId, 'before_id');
    await this.channels.readable(p, channelId);
    const n = clampLimit(limit, HISTORY_DEFAULT, HISTORY_MAX);
    const rows = await this.d.messages.before(channelId, beforeId, n);
    const last = rows[rows.length - 1];
    const nextBeforeId = rows.length === n && last && last.id > 1 ? last.id : 0;
    return { messages: rows.filter((m) => !isEntry(m)), nextBeforeId };
  }

  /**
   * Everything after the device's cursors in all of the user's channels,
   * oldest first per channel. Channels without a given cursor use the
   * device's stored one.
   */
  async sync(p: Principal, given: Cursor[], limit: number) {
    const me = requireUser(p);
    const cursors = await this.effectiveCursors(me.userId, me.deviceId, given);
    let budget = clampLimit(limit, SYNC_MAX, SYNC_MAX);
    const messages: Message[] = [];
    let hasMore = false;
    for (const [channelId, from] of cursors) {
      if (budget === 0) {
        hasMore = true;
        break;
      }
      const page = await this.d.messages.after(channelId, from, budget + 1);
      if (page.length > budget) {
        hasMore = true;
        page.length = budget;
      }
      messages.push(...page);
      budget -= page.length;
      if (page.length) cursors.set(channelId, page[page.length - 1]!.id);
    }
    return { messages, hasMore, cursors: [...cursors].map(([channelId, lastMessageId]) => ({ channelId, lastMessageId })) };
  }

  /** Per channel of the user: the given cursor, else the device's stored one, else 0. Cursors of channels the user is not in are ignored. */
  async effectiveCursors(userId: string, deviceId: string, given: Cursor[]): Promise<Map<string, number>> {
    const [ids, stored] = await Promise.all([this.d.channels.channelsOf(userId), this.d.cursors.delivered(userId, deviceId)]);
    const mine = new Set(ids);
    const out = new Map<string, number>();
    for (const id of ids.sort()) out.set(id, stored.get(id) ?? 0);
    for (const c of given) {
      checkChannelId(c.channelId, 'cursor channel_id');
      checkMessageId(c.lastMessageId, 'cursor last_message_id');
      // A cursor for a channel the user has left is stale, not an error: skip it.
      if (mine.has(c.channelId)) out.set(c.channelId, c.lastMessageId);
    }
    return out;
  }

  /**
   * Past the user's mark rate the call still succeeds, but only the latest
   * mark per channel is kept and applied once the rate allows (membership and
   * the channel head are checked then).
   */
  async markRead(p: Principal, channelId: string, messageId: number) {
    const me = requireUser(p);
    checkChannelId(channelId);
    checkMessageId(messageId, 'last_read_message_id');
    const wait = await this.ephemeral.take('read', me.userId);
    if (wait > 0) {
      const apply = (id: number) => this.markReadNow(me, channelId, id);
      return this.ephemeral.defer(`read:${me.userId}:${channelId}`, wait, messageId, Math.max, apply);
    }
    await this.markReadNow(me, channelId, messageId);
  }

  private async markReadNow(me: { userId: string; deviceId: string }, channelId: string, messageId: number) {
    await this.channels.readable({ kind: 'user', ...me }, channelId);
    const head = await this.d.sequencer.current(channelId);
    if (messageId > head) throw invalid(`last_read_message_id ${messageId} is past the newest message (${head})`);
    const lastRead = await this.d.cursors.markRead(me.userId, channelId, messageId);
    await this.d.fanout.publish(channelTopic(channelId), {
      type: 'receipt',
      channelId,
      userId: me.userId,
      deviceId: me.deviceId,
      lastReadMessageId: lastRead,
    });
  }

  /** Like markRead: past the mark rate, cursors are merged (highest per channel) and applied once the rate allows. */
  async ackDelivered(p: Principal, cursors: Cursor[]) {
    const me = requireUser(p);
    if (cursors.length === 0) return;
    for (const c of cursors) {
      checkChannelId(c.channelId, 'cursor channel_id');
      checkMessageId(c.lastMessageId, 'cursor last_message_id');
    }
    const wait = await this.ephemeral.take('ack', me.userId);
    if (wait > 0) {
      const apply = (cs: Cursor[]) => this.ackNow(me, cs);
      return this.ephemeral.defer(`ack:${me.userId}:${me.deviceId}`, wait, cursors, mergeCursors, apply);
    }
    await this.ackNow(me, cursors);
  }

  private async ackNow(me: { userId: string; deviceId: string }, cursors: Cursor[]) {
    const mine = new Set(await this.d.channels.channelsOf(me.userId));
    for (const c of cursors) if (!mine.has(c.channelId)) throw denied(`you are not a member of channel ${c.channelId}`);
    // A cursor past the channel's head is clamped to it: stored as given, it would hide the next messages from this device.
    const heads = await Promise.all(cursors.map((c) => this.d.sequencer.current(c.channelId)));
    const clamped = cursors.map((c, i) => ({ channelId: c.channelId, lastMessageId: Math.min(c.lastMessageId, heads[i]!) }));
    await this.d.cursors.ackDelivered(me.userId, me.deviceId, clamped);
    await this.deliveryReceipts(me.userId, clamped);
  }

  /**
   * Tells the other member of each 1:1 channel how far this user's devices have received it.
   * Acks are already rate-limited per user (merged past the mark rate) and receivers coalesce
   * the frames per channel and user; groups get none (GetReceipts answers for them).
   */
  private async deliveryReceipts(userId: string, cursors: Cursor[]) {
    await Promise.all(
      cursors.map(async (c) => {
        if (c.lastMessageId === 0) return;
        const ch = await this.d.channels.get(c.channelId).catch(() => undefined);
        if (ch?.kind !== 'direct') return;
        const ev = { type: 'delivery' as const, channelId: ch.id, userId, lastDeliveredMessageId: c.lastMessageId };
        await this.d.fanout.publish(channelTopic(ch.id), ev).catch((e) => this.d.log.warn({ err: String(e) }, 'delivery receipt publish failed'));
      }),
    );
  }

  /** Typing is relayed to the channel's online devices and never stored. Past the typing rate: RESOURCE_EXHAUSTED. */
  async typing(p: Principal, channelId: string, typing: boolean) {
    const me = requireUser(p);
    const wait = await this.ephemeral.take('typing', me.userId);
    if (wait > 0) {
      this.d.counts.ephemeralLimited++;
      throw exhausted(`typing too often: at most ${this.d.settings.typingRatePerSec} updates per second; retry in ${wait} ms`, wait);
    }
    await this.channels.readable(p, channelId);
    await this.d.fanout.publish(channelTopic(channelId), { type: 'typing', channelId, userId: me.userId, deviceId: me.deviceId, typing });
  }

  /** One push per device of every recipient who has no online device. Best effort. A stream on this node counts as online without asking presence. */
  private async pushToOffline(ch: Channel, m: Message) {
    try {
      const recipients = ch.members.map((x) => x.userId).filter((u) => u !== m.senderUserId && !this.connectedHere(u));
      if (recipients.length === 0) return;
      const presence = await this.d.presence.get(recipients);
      const offline = await this.unmuted(
        presence.filter((x) => !x.online).map((x) => x.userId),
        m.channelId,
      );
      const preview = m.body.length > 80 ? m.body.slice(0, 79) + '…' : m.body;
      await Promise.all(
        offline.map(async (userId) => {
          for (const dev of await this.d.accounts.listDevices(userId)) {
            await this.d.push
              .notify({ userId, deviceId: dev.deviceId, channelId: m.channelId, messageId: m.id, senderUserId: m.senderUserId, preview })
              .catch((e) => this.d.log.warn({ err: String(e), userId, deviceId: dev.deviceId }, 'push failed'));
          }
        }),
      );
    } catch (e) {
      this.d.log.warn({ err: String(e) }, 'push fan-out failed');
    }
  }

  /** Those of `userIds` who have not muted the channel (MuteChannel: push only; delivery and unread counts are unchanged). */
  private async unmuted(userIds: string[], channelId: string): Promise<string[]> {
    const now = this.d.now();
    const muted = await Promise.all(userIds.map(async (u) => (await this.d.safety.mutes(u, now)).has(channelId)));
    return userIds.filter((_, i) => !muted[i]);
  }
}

function clampLimit(n: number, dflt: number, max: number) {
  if (!n) return dflt;
  return Math.min(Math.max(1, n), max);
}

/** Highest cursor per channel of two acks; the cursor store keeps the highest anyway. */
function mergeCursors(older: Cursor[], newer: Cursor[]): Cursor[] {
  const m = new Map(older.map((c) => [c.channelId, c.lastMessageId]));
  for (const c of newer) m.set(c.channelId, Math.max(m.get(c.channelId) ?? 0, c.lastMessageId));
  if (m.size > MERGED_CURSORS_MAX) return newer;
  return [...m].map(([channelId, lastMessageId]) => ({ channelId, lastMessageId }));
}

function asUnavailable(e: unknown, what: string): DomainError {
  if (e instanceof DomainError) return e;
  return unavailable(`${what}: storage is unavailable; retry with the same client_msg_id`);
}

/** Whether a claim may stand for an earlier attempt's message (see earlierCopy); most sends' claims are clean, and skip the call. */
function mayHaveEarlier(claim: ClaimResult, firstAttempt: boolean): boolean {
  return claim.status === 'done' || !!claim.recovered || (!!claim.unvouched && !firstAttempt);
}

const ignore = () => {};
