import { channelTopic } from '../domain/events.js';
import { DomainError, exhausted, invalid, unavailable } from '../domain/errors.js';
import { checkClientMsgId, checkMessageId } from '../domain/ids.js';
import { checkCanDelete, checkCanEdit, checkEmoji, checkTarget, reactionChanges } from '../domain/lifecycle.js';
import type { Channel, Message, Principal, Reaction } from '../domain/model.js';
import { checkBody } from '../domain/rules.js';
import { requireUser, type Channels } from './Channels.js';
import type { CoreDeps } from './deps.js';

const EDIT_WINDOW_DEFAULT_MS = 48 * 3600 * 1000;

type Me = { kind: 'user'; userId: string; deviceId: string };
type Draft = Pick<Message, 'clientMsgId' | 'body' | 'kind' | 'targetId'> & Partial<Pick<Message, 'emoji' | 'reactionRemoved'>>;

export interface ReceiptCounts {
  memberCount: number;
  receivedBy: string[];
  readBy: string[];
}

/**
 * Edits, deletes for everyone, reactions and receipt queries. A change is an
 * entry with the channel's next id: validated against the target's current
 * state, appended to the log, applied to the target's stored state, then
 * published like a message, so devices get it in order through the
 * replay/caught-up/live path. Each change counts against the user's send rate.
 */
export class Lifecycle {
  constructor(
    private readonly d: CoreDeps,
    private readonly channels: Channels,
  ) {}

  /** Sender only, within the edit window; idempotent by client_msg_id (a resend returns the first EDIT entry). */
  async edit(p: Principal, channelId: string, messageId: number, clientMsgIdRaw: string, body: string) {
    const me = requireUser(p);
    const clientMsgId = checkClientMsgId(clientMsgIdRaw);
    checkBody(body, this.d.settings);
    const key = `${me.userId}:${clientMsgId}`;
    const ttl = this.d.settings.idempotencyTtlMs;
    const { ch, target } = await this.prepare(me, channelId, messageId);
    const claim = await this.d.idempotency.claim(key, ttl);
    if (claim.status === 'done') return { entry: await this.original(claim.channelId, claim.messageId, channelId, messageId), duplicate: true };
    const release = () => this.d.idempotency.release(key).catch(() => {});
    try {
      if (claim.recovered || claim.unvouched) {
        const earlier = await this.d.messages.findByClientMsgId(me.userId, clientMsgId);
        if (earlier) {
          // The earlier attempt may have died before applying or publishing: finish both (idempotent).
          await this.finish(earlier);
          await this.d.idempotency.complete(key, earlier.channelId, earlier.id, ttl).catch(() => {});
          return { entry: earlier, duplicate: true };
        }
      }
      checkCanEdit(target, me.userId, this.d.now(), this.d.settings.editWindowMs ?? EDIT_WINDOW_DEFAULT_MS);
      const entry = await this.record(me, ch, { clientMsgId, body, kind: 'edit', targetId: target.id });
      await this.d.idempotency.complete(key, channelId, entry.id, ttl).catch((e) => this.d.log.error({ err: e }, 'idempotency complete failed'));
      return { entry, duplicate: false };
    } catch (e) {
      if (!claim.recovered) await release();
      throw e;
    }
  }

  /** The sender, or a group's owner or admin; the body is erased from storage. */
  async remove(p: Principal, channelId: string, messageId: number): Promise<Message> {
    const me = requireUser(p);
    const { ch, target } = await this.prepare(me, channelId, messageId);
    checkCanDelete(target, ch, me.userId);
    return this.record(me, ch, { clientMsgId: '', body: '', kind: 'delete', targetId: target.id });
  }

  /** Adds or takes back the caller's emoji; a call that changes nothing takes no id and returns no entry. */
  async react(p: Principal, channelId: string, messageId: number, emojiRaw: string, remove: boolean) {
    const me = requireUser(p);
    const emoji = checkEmoji(emojiRaw);
    const { ch, target } = await this.prepare(me, channelId, messageId);
    if (!reactionChanges(target, me.userId, emoji, remove)) return { entry: undefined, reactions: target.reactions ?? [] };
    const entry = await this.record(me, ch, { clientMsgId: '', body: '', kind: 'reaction', targetId: target.id, emoji, reactionRemoved: remove });
    const after = await this.d.messages.get(channelId, target.id);
    return { entry, reactions: after?.reactions ?? ([] as Reaction[]) };
  }

  /** Members other than the sender, and who of them has received and read the message (from per-member pointers). */
  async receipts(p: Principal, channelId: string, messageId: number): Promise<ReceiptCounts> {
    checkMessageId(messageId, 'message_id');
    const ch = await this.channels.readable(p, channelId);
    const [target, pointers] = await Promise.all([this.d.messages.get(ch.id, messageId), this.d.cursors.memberPointers(ch.id)]);
    const m = checkTarget(target, channelId, messageId);
    const others = ch.members.map((x) => x.userId).filter((u) => u !== m.senderUserId);
    const receivedBy: string[] = [];
    const readBy: string[] = [];
    for (const u of others) {
      const ptr = pointers.get(u);
      if (!ptr) continue;
      if (Math.max(ptr.delivered, ptr.read) >= messageId) receivedBy.push(u);
      if (ptr.read >= messageId) readBy.push(u);
    }
    return { memberCount: others.length, receivedBy, readBy };
  }

  /** Membership, the send rate and the target, read together. */
  private async prepare(me: Me, channelId: string, messageId: number): Promise<{ ch: Channel; target: Message }> {
    checkMessageId(messageId, 'message_id');
    if (messageId === 0) throw invalid('message_id is required');
    const { sendRatePerSec, sendBurst } = this.d.settings;
    const [ch, wait, target] = await Promise.all([
      this.channels.readable(me, channelId),
      this.d.rateLimiter.take(`send:${me.userId}`, sendRatePerSec, sendBurst),
      this.d.messages.get(channelId, messageId),
    ]);
    if (wait > 0) throw exhausted(`changing messages too fast: at most ${sendRatePerSec} per second; retry in ${wait} ms`, wait);
    return { ch, target: checkTarget(target, channelId, messageId) };
  }

  /** A resend of an edit: the stored entry, which must be an edit of the same message. */
  private async original(entryChannel: string, entryId: number, channelId: string, messageId: number): Promise<Message> {
    const entry = await this.d.messages.get(entryChannel, entryId);
    if (!entry) throw unavailable('the original of this client_msg_id is not readable right now; retry');
    if (entry.kind !== 'edit' || entry.channelId !== channelId || entry.targetId !== messageId) {
      throw invalid('client_msg_id was already used for another message or change');
    }
    return entry;
  }

  /** Takes the channel's next id, stores the entry, applies it to the target and publishes it. */
  private async record(me: Me, ch: Channel, draft: Draft): Promise<Message> {
    let entry: Message;
    try {
      const id = await this.d.sequencer.next(ch.id);
      entry = {
        channelId: ch.id,
        id,
        senderUserId: me.userId,
        senderDeviceId: me.deviceId,
        clientMsgId: draft.clientMsgId,
        body: draft.body,
        sentAtMs: this.d.now(),
        kind: draft.kind,
        targetId: draft.targetId,
      };
      if (draft.emoji !== undefined) entry.emoji = draft.emoji;
      if (draft.reactionRemoved) entry.reactionRemoved = true;
      await this.d.messages.append(entry);
    } catch (e) {
      throw e instanceof DomainError ? e : unavailable('the change was not stored: storage is unavailable; retry');
    }
    await this.finish(entry);
    return entry;
  }

  /**
   * Applies a stored entry to its target and publishes it. The entry is in the log already: a failure
   * to apply is reported (the caller retries; applying is idempotent), a failed publish only logged
   * (devices read the entry from storage).
   */
  private async finish(entry: Message) {
    try {
      await this.d.messages.applyChange(entry);
    } catch (e) {
      throw e instanceof DomainError ? e : unavailable('the change is logged but not applied yet; retry');
    }
    await this.d.fanout
      .publish(channelTopic(entry.channelId), { type: 'message', message: entry })
      .catch((e) => this.d.log.error({ err: e, channelId: entry.channelId }, 'publish failed; receivers catch up from storage'));
  }
}
