import { MembershipChange, type MembershipEvent, type TypingEvent } from '../gen/chat/v1/chat.js';
import { MessageKind, PresenceState, type Message, type Presence } from '../gen/chat/v1/common.js';
import type { Directory } from './directory.js';
import { messageLine, type Printer } from './format.js';

/** How long a "typing" notice stays quiet before the same person may trigger it again. */
const TYPING_QUIET_MS = 5_000;

/**
 * Turns server frames into lines for a person: messages with resolved names,
 * presence transitions, debounced typing notices and membership changes.
 * Channels other than the target are prefixed with their label.
 */
export class Renderer {
  private readonly presence = new Map<string, PresenceState>();
  private readonly typingShown = new Map<string, number>();

  constructor(
    private readonly dir: Directory,
    private readonly out: Printer,
    private readonly me: { userId: string; userName: string },
    private readonly target: string | undefined,
  ) {}

  /** The label prefix for a channel, empty for the target channel. */
  async prefix(channelId: string): Promise<string> {
    if (channelId === this.target) return '';
    if (!this.dir.get(channelId)) await this.dir.refresh(channelId);
    return `[${this.dir.label(channelId)}]`;
  }

  /** A display name for a sender: services keep their `svc:` name. */
  async sender(userId: string, channelId: string): Promise<string> {
    if (userId === this.me.userId) return this.me.userName;
    if (userId.startsWith('svc:')) return userId;
    return this.dir.nameOf(userId, channelId);
  }

  /** Prints a delivered message (replayed or live). */
  async message(m: Message) {
    this.typingShown.delete(`${m.channelId}/${m.senderUserId}`);
    this.out.line(messageLine(m, await this.sender(m.senderUserId, m.channelId), await this.prefix(m.channelId)));
  }

  /** Prints a lifecycle entry: an edit, a delete or a reaction of an earlier message. */
  async change(m: Message) {
    const who = await this.sender(m.senderUserId, m.channelId);
    const target = m.change?.targetId ?? 0;
    const prefix = await this.prefix(m.channelId);
    const head = prefix ? `${prefix} ` : '';
    if (m.kind === MessageKind.MESSAGE_KIND_EDIT) return this.out.line(`${head}* ${who} edited #${target}: ${m.body}`);
    if (m.kind === MessageKind.MESSAGE_KIND_DELETE) return this.out.line(`${head}* ${who} deleted #${target}`);
    const verb = m.change?.reactionRemoved ? 'took back' : 'reacted';
    this.out.line(`${head}* ${who} ${verb} ${m.change?.emoji ?? ''} on #${target}`);
  }

  /** Ticks on our own messages: how far another member's devices received or read a channel. */
  async tick(channelId: string, userId: string, upTo: number, read: boolean) {
    if (userId === this.me.userId) return;
    const name = await this.sender(userId, channelId);
    this.out.line(`${read ? '✓✓ read' : '✓ delivered'} by ${name} up to #${upTo}`);
  }

  /** Prints our own message once the server accepted it. */
  async ownMessage(channelId: string, id: number, sentAtMs: number, body: string, duplicate: boolean) {
    const line = messageLine({ id, sentAtMs, body }, this.me.userName, await this.prefix(channelId));
    this.out.line(duplicate ? `${line} (already sent)` : line);
  }

  /** Prints a presence transition; the first report of an offline user is skipped. */
  async presenceChange(p: Presence) {
    if (p.userId === this.me.userId) return;
    const before = this.presence.get(p.userId);
    this.presence.set(p.userId, p.state);
    if (before === p.state) return;
    if (before === undefined && p.state !== PresenceState.PRESENCE_STATE_ONLINE) return;
    const name = this.dir.name(p.userId);
    const state = p.state === PresenceState.PRESENCE_STATE_ONLINE ? 'online' : 'offline';
    this.out.line(`* ${name} is ${state}`);
  }

  /** Prints "is typing…" at most once per person and quiet period. */
  async typing(t: TypingEvent) {
    const key = `${t.channelId}/${t.userId}`;
    if (!t.typing) {
      this.typingShown.delete(key);
      return;
    }
    const last = this.typingShown.get(key);
    if (last !== undefined && Date.now() - last < TYPING_QUIET_MS) return;
    this.typingShown.set(key, Date.now());
    const pre = await this.prefix(t.channelId);
    const name = await this.sender(t.userId, t.channelId);
    this.out.line(`${pre ? pre + ' ' : ''}* ${name} is typing…`);
  }

  /** Prints a membership change; refreshes the channel so names and labels stay right. */
  async membership(ev: MembershipEvent) {
    const self = ev.userId === this.me.userId;
    const gone = ev.change !== MembershipChange.MEMBERSHIP_CHANGE_JOINED;
    const before = this.dir.get(ev.channelId);
    if (!(self && gone)) await this.dir.refresh(ev.channelId);
    const label = this.dir.get(ev.channelId) || before ? this.dir.label(ev.channelId) : ev.channelId;
    const who = self ? 'you' : await this.sender(ev.userId, ev.channelId);
    const by = ev.byUserId && ev.byUserId !== ev.userId ? await this.sender(ev.byUserId, ev.channelId) : '';
    let text: string;
    switch (ev.change) {
      case MembershipChange.MEMBERSHIP_CHANGE_JOINED:
        text = label.startsWith('@') && self ? `* new direct chat ${label}` : `* ${who} joined ${label}${by ? ` (added by ${by})` : ''}`;
        break;
      case MembershipChange.MEMBERSHIP_CHANGE_LEFT:
        text = `* ${who} left ${label}`;
        break;
      case MembershipChange.MEMBERSHIP_CHANGE_REMOVED:
        text = `* ${who} ${self ? 'were' : 'was'} removed from ${label}${by ? ` by ${by}` : ''}`;
        break;
      default:
        text = `* membership of ${label} changed for ${who}`;
    }
    if (self && gone) this.dir.forget(ev.channelId);
    this.out.line(text);
  }
}
