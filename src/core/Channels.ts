import { CHANNELS_TOPIC, channelTopic, userTopic, type MembershipChange } from '../domain/events.js';
import { denied, invalid, notFound, precondition } from '../domain/errors.js';
import { checkChannelId, directChannelId, isUserId, newGroupId } from '../domain/ids.js';
import type { Account, Channel, Member, Principal } from '../domain/model.js';
import { checkCanManage, checkCapacity, checkTitle, memberOf, unreadCount } from '../domain/rules.js';
import type { CoreDeps } from './deps.js';
import { skippedCount } from '../domain/skipped.js';

/** A channel as one user sees it: members with names, head, read pointer, unread count. */
export interface ChannelView {
  channel: Channel;
  memberNames: Map<string, string>;
  lastMessageId: number;
  lastReadMessageId: number;
  unreadCount: number;
}

/** Use cases for channels and membership. */
export class Channels {
  constructor(
    private readonly d: CoreDeps,
    /** Whether a user id still has an account (cached: see KnownAccounts). */
    private readonly exists: (userId: string) => Promise<boolean> = async () => true,
  ) {}

  /**
   * Loads a channel the principal may send into: `readable`, and for a direct
   * channel the other side still has an account (a deleted account's direct
   * channel stays as history only).
   */
  async writable(p: Principal, channelId: string): Promise<Channel> {
    const ch = await this.readable(p, channelId);
    if (ch.kind !== 'direct' || p.kind !== 'user') return ch;
    const peer = ch.members.find((m) => m.userId !== p.userId);
    if (peer && !(await this.exists(peer.userId))) throw precondition('the other account of this direct channel was deleted');
    return ch;
  }

  /** Loads a channel the principal may read: members only, or any backend service. */
  async readable(p: Principal, channelId: string): Promise<Channel> {
    checkChannelId(channelId);
    let ch = await this.d.channels.get(channelId);
    if (!ch || (p.kind === 'user' && !memberOf(ch, p.userId))) {
      // A cached copy may predate a join made through another node: refuse only on the stored truth.
      ch = await this.d.channels.get(channelId, { fresh: true });
    }
    if (!ch) throw notFound(`channel ${channelId} does not exist`);
    if (p.kind === 'user' && !memberOf(ch, p.userId)) throw denied(`you are not a member of channel ${channelId}`);
    return ch;
  }

  async createGroup(p: Principal, title: string, memberRefs: string[]): Promise<ChannelView> {
    const me = requireUser(p);
    const cleanTitle = checkTitle(title, this.d.settings);
    const others = (await this.resolveAll(memberRefs)).filter((a) => a.userId !== me.userId);
    checkCapacity(1, others.length, this.d.settings);
    await this.checkChannelRoom([me.userId, ...others.map((a) => a.userId)]);
    const channel: Channel = {
      id: newGroupId(),
      kind: 'group',
      title: cleanTitle,
      createdAtMs: this.d.now(),
      members: [{ userId: me.userId, role: 'owner' }, ...others.map((a): Member => ({ userId: a.userId, role: 'member' }))],
    };
    await this.d.sequencer.open(channel.id);
    await this.d.channels.create(channel);
    await this.announce(
      channel.id,
      channel.members.map((m) => m.userId),
      'joined',
      me.userId,
    );
    return this.view(me.userId, channel);
  }

  async addMembers(p: Principal, channelId: string, memberRefs: string[]): Promise<ChannelView> {
    const me = requireUser(p);
    const ch = await this.readable(p, channelId);
    checkCanManage(ch, me.userId);
    const accounts = await this.resolveAll(memberRefs);
    const fresh = accounts.filter((a) => !memberOf(ch, a.userId));
    await this.checkChannelRoom(fresh.map((a) => a.userId));
    const head = await this.d.sequencer.current(channelId);
    const after = await this.d.channels.addMembers(
      channelId,
      fresh.map((a) => ({ userId: a.userId, role: 'member' })),
      this.d.settings.maxGroupMembers,
    );
    // New members' devices start at the current head; older messages are history they can page.
    await Promise.all(fresh.map((a) => this.startDevicesAt(a.userId, channelId, head)));
    await this.announce(
      channelId,
      fresh.map((a) => a.userId),
      'joined',
      me.userId,
    );
    return this.view(me.userId, after);
  }

  async removeMember(p: Principal, channelId: string, memberRef: string): Promise<void> {
    const me = requireUser(p);
    const target = await this.resolve(memberRef);
    if (target.userId === me.userId) return this.leave(p, channelId);
    const ch = await this.readable(p, channelId);
    checkCanManage(ch, me.userId);
    const member = memberOf(ch, target.userId);
    if (!member) throw notFound(`${target.userName} is not a member of channel ${channelId}`);
    if (member.role === 'owner') throw denied('the owner of a group cannot be removed');
    await this.d.channels.removeMember(channelId, target.userId);
    await this.announce(channelId, [target.userId], 'removed', me.userId);
  }

  async leave(p: Principal, channelId: string): Promise<void> {
    const me = requireUser(p);
    const ch = await this.readable(p, channelId);
    if (ch.kind === 'direct') throw precondition('you cannot leave a direct channel');
    await this.d.channels.removeMember(channelId, me.userId);
    if (memberOf(ch, me.userId)?.role === 'owner') {
      const heir = ch.members.find((m) => m.userId !== me.userId && m.role === 'admin') ?? ch.members.find((m) => m.userId !== me.userId);
      if (heir) await this.d.channels.setRole(channelId, heir.userId, 'owner');
    }
    await this.announce(channelId, [me.userId], 'left', me.userId);
  }

  async list(p: Principal): Promise<ChannelView[]> {
    const me = requireUser(p);
    const ids = await this.d.channels.channelsOf(me.userId);
    const channels = (await Promise.all(ids.map((id) => this.d.channels.get(id)))).filter((c): c is Channel => !!c);
    const views = await Promise.all(channels.map((c) => this.view(me.userId, c)));
    return views.sort((a, b) => b.lastMessageId - a.lastMessageId || a.channel.id.localeCompare(b.channel.id));
  }

  async get(p: Principal, channelId: string): Promise<ChannelView> {
    const ch = await this.readable(p, channelId);
    return this.view(p.kind === 'user' ? p.userId : '', ch);
  }

  async openDirect(p: Principal, peerRef: string): Promise<ChannelView> {
    const me = requireUser(p);
    const peer = await this.resolve(peerRef);
    if (peer.userId === me.userId) throw invalid('peer must be another user');
    const id = directChannelId(me.userId, peer.userId);
    const existing = await this.d.channels.get(id);
    if (existing) return this.view(me.userId, existing);
    await this.checkChannelRoom([me.userId, peer.userId]);
    const createdAtMs = this.d.now();
    const ch = await this.d.channels.createDirect({
      id,
      kind: 'direct',
      title: '',
      createdAtMs,
      members: [
        { userId: me.userId, role: 'member' },
        { userId: peer.userId, role: 'member' },
      ],
    });
    // Only a channel this call created gets a fresh counter: an existing one's counter may have been lost, never reset it.
    if (ch.createdAtMs === createdAtMs) await this.d.sequencer.open(id);
    await this.announce(id, [me.userId, peer.userId], 'joined', me.userId);
    return this.view(me.userId, ch);
  }

  /** Every user must have room for one more channel (CHAT_MAX_CHANNELS_PER_USER). */
  private async checkChannelRoom(userIds: string[]) {
    const max = this.d.settings.maxChannelsPerUser;
    const counts = await Promise.all(userIds.map(async (u) => [u, (await this.d.channels.channelsOf(u)).length] as const));
    const full = counts.find(([, n]) => n >= max);
    if (full) throw precondition(`user ${full[0]} is already in ${max} channels, the most one user may join`);
  }

  /** Users who share at least one channel with `userId` (presence visibility). */
  async contactsOf(userId: string): Promise<Set<string>> {
    const ids = await this.d.channels.channelsOf(userId);
    const out = new Set<string>();
    for (const ch of await Promise.all(ids.map((id) => this.d.channels.get(id)))) {
      for (const m of ch?.members ?? []) if (m.userId !== userId) out.add(m.userId);
    }
    return out;
  }

  /** A user name or a user id to an account; NOT_FOUND names the reference. */
  async resolve(ref: string): Promise<Account> {
    const r = ref.trim();
    if (!r) throw invalid('a member reference is empty');
    const account = isUserId(r) ? await this.d.accounts.byId(r) : await this.d.accounts.byName(r);
    if (!account) throw notFound(`user "${r.slice(0, 64)}" does not exist`);
    return account;
  }

  private async resolveAll(refs: string[]): Promise<Account[]> {
    if (refs.length > this.d.settings.maxGroupMembers) {
      throw precondition(`a group holds at most ${this.d.settings.maxGroupMembers} members`);
    }
    const accounts = await Promise.all(refs.map((r) => this.resolve(r)));
    return [...new Map(accounts.map((a) => [a.userId, a])).values()];
  }

  private async startDevicesAt(userId: string, channelId: string, head: number) {
    const devices = await this.d.accounts.listDevices(userId);
    await Promise.all(devices.map((dev) => this.d.cursors.ackDelivered(userId, dev.deviceId, [{ channelId, lastMessageId: head }])));
  }

  /** Tells the affected users (all their sessions, on every node) and the channel. */
  private async announce(channelId: string, userIds: string[], change: MembershipChange, byUserId: string) {
    // First, so that every node's channel cache has dropped its copy before the change is acted on.
    await this.d.fanout.publish(CHANNELS_TOPIC, { type: 'channelChanged', channelId });
    await Promise.all(
      userIds.flatMap((userId) => {
        const ev = { type: 'membership' as const, channelId, userId, change, byUserId };
        return [this.d.fanout.publish(userTopic(userId), ev), this.d.fanout.publish(channelTopic(channelId), ev)];
      }),
    );
  }

  private async view(userId: string, channel: Channel): Promise<ChannelView> {
    const [head, reads, names] = await Promise.all([
      this.d.sequencer.current(channel.id),
      userId ? this.d.cursors.readPointers(userId, [channel.id]) : Promise.resolve(new Map<string, number>()),
      Promise.all(channel.members.map(async (m) => [m.userId, (await this.d.accounts.byId(m.userId))?.userName ?? ''] as const)),
    ]);
    const lastRead = Math.min(reads.get(channel.id) ?? 0, head);
    // Ids the sequencer passed over (after Redis lost a counter) and lifecycle entries (edits, deletes, reactions) are not unread messages.
    const [skipped, changes] =
      head > lastRead
        ? await Promise.all([
            this.d.skipped.between(channel.id, lastRead, head + 1).then((r) => skippedCount(r, lastRead, head)),
            this.d.messages.countChanges(channel.id, lastRead, head),
          ])
        : [0, 0];
    return {
      channel,
      memberNames: new Map(names),
      lastMessageId: head,
      lastReadMessageId: lastRead,
      unreadCount: Math.max(0, unreadCount(head, lastRead) - skipped - changes),
    };
  }
}

export function requireUser(p: Principal) {
  if (p.kind !== 'user') throw denied('this call needs a user token, not a service credential');
  return p;
}
