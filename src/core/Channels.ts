import { CHANNELS_TOPIC, channelTopic, userTopic, type InvitationInfo, type MembershipChange } from '../domain/events.js';
import { denied, exhausted, invalid, notFound, precondition } from '../domain/errors.js';
import { checkChannelId, directChannelId, directPeer, isUserId, newGroupId } from '../domain/ids.js';
import type { Account, Channel, Member, Principal } from '../domain/model.js';
import { checkCanManage, checkCapacity, checkTitle, memberOf, unreadCount } from '../domain/rules.js';
import type { CoreDeps } from './deps.js';
import { skippedCount } from '../domain/skipped.js';
import { BlockCache } from './BlockCache.js';

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
  /** Who hides from whom (blocks either way), cached per node. */
  readonly blocks: BlockCache;

  constructor(
    private readonly d: CoreDeps,
    /** Whether a user id still has an account (cached: see KnownAccounts). */
    private readonly exists: (userId: string) => Promise<boolean> = async () => true,
    /** The same, answered only from the cache: true = known to exist now, false = ask `exists`. */
    private readonly knownNow: (userId: string) => boolean = () => false,
  ) {
    this.blocks = new BlockCache(d.safety, d.settings.blockCacheMs, d.now);
  }

  /**
   * Loads a channel the principal may send into: `readable`, and for a direct
   * channel the other side still has an account (a deleted account's direct
   * channel stays as history only) and neither blocked the other (the text
   * does not say which: a blocked user is never told). Both checks are
   * answered from per-node caches on the hot path.
   */
  async writable(p: Principal, channelId: string): Promise<Channel> {
    const ch = this.readableNow(p, channelId) ?? (await this.readable(p, channelId));
    if (ch.kind !== 'direct' || p.kind !== 'user') return ch;
    const peer = directPeer(ch.id, p.userId);
    // Both answers cached (every send of an ongoing chat): no promise at all. This path ran
    // Promise.all over three async calls per direct message (about 1 KB allocated each time).
    const blocked = this.knownNow(peer) ? this.blocks.peek(p.userId) : undefined;
    if (blocked) {
      if (blocked.has(peer)) throw denied('you cannot write to this channel');
      return ch;
    }
    const [alive, hidden] = await Promise.all([this.exists(peer), this.blocks.between(p.userId, peer)]);
    if (!alive) throw precondition('the other account of this direct channel was deleted');
    if (hidden) throw denied('you cannot write to this channel');
    return ch;
  }

  /** `readable`, answered at once when the store holds the channel at hand and the principal may read it; else undefined (ask `readable`, which also refuses). */
  private readableNow(p: Principal, channelId: string): Channel | undefined {
    checkChannelId(channelId);
    const ch = this.d.channels.peek?.(channelId);
    return ch && (p.kind !== 'user' || memberOf(ch, p.userId)) ? ch : undefined;
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
    const cleanTitle = checkTitle(title);
    const others = (await this.resolveAll(memberRefs)).filter((a) => a.userId !== me.userId);
    checkCapacity(1, others.length, this.d.settings);
    const { add, invite } = await this.sortOut(me.userId, others);
    await this.checkChannelRoom([me.userId, ...add.map((a) => a.userId)]);
    await this.takeInviteTokens(me.userId, invite.length);
    const channel: Channel = {
      id: newGroupId(),
      kind: 'group',
      title: cleanTitle,
      createdAtMs: this.d.now(),
      members: [{ userId: me.userId, role: 'owner' }, ...add.map((a): Member => ({ userId: a.userId, role: 'member' }))],
    };
    await this.d.sequencer.open(channel.id);
    await this.d.channels.create(channel);
    await this.announce(
      channel.id,
      channel.members.map((m) => m.userId),
      'joined',
      me.userId,
    );
    await this.invite(me.userId, channel, invite);
    return this.view(me.userId, channel);
  }

  async addMembers(p: Principal, channelId: string, memberRefs: string[]): Promise<ChannelView> {
    const me = requireUser(p);
    const ch = await this.readable(p, channelId);
    checkCanManage(ch, me.userId);
    const accounts = await this.resolveAll(memberRefs);
    const { add: fresh, invite } = await this.sortOut(
      me.userId,
      accounts.filter((a) => !memberOf(ch, a.userId)),
    );
    await this.checkChannelRoom(fresh.map((a) => a.userId));
    await this.takeInviteTokens(me.userId, invite.length);
    const head = await this.d.sequencer.current(channelId);
    const after = fresh.length
      ? await this.d.channels.addMembers(
          channelId,
          fresh.map((a) => ({ userId: a.userId, role: 'member' })),
          this.d.settings.maxGroupMembers,
        )
      : ch;
    // New members' devices start at the current head; older messages are history they can page.
    await Promise.all(fresh.map((a) => this.startDevicesAt(a.userId, channelId, head)));
    await this.announce(
      channelId,
      fresh.map((a) => a.userId),
      'joined',
      me.userId,
    );
    await this.invite(me.userId, after, invite);
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

  /**
   * The direct channel with a peer. A peer who shares no accepted channel with
   * the caller (CHAT_CONSENT=invite) is invited, not added: the caller may
   * write, the peer gets it all on accepting. Opening a channel the caller
   * was invited to accepts the invitation.
   */
  async openDirect(p: Principal, peerRef: string): Promise<ChannelView> {
    const me = requireUser(p);
    const peer = await this.resolve(peerRef);
    if (peer.userId === me.userId) throw invalid('peer must be another user');
    if (await this.blocks.between(me.userId, peer.userId)) throw denied(`you cannot open a direct channel with ${peer.userName}`);
    const id = directChannelId(me.userId, peer.userId);
    const both = (c?: Channel) => !!c && !!memberOf(c, me.userId) && !!memberOf(c, peer.userId);
    let ch = await this.d.channels.get(id);
    if (both(ch)) return this.view(me.userId, ch!);
    // A cached copy may predate a join made through another node: decide on the stored truth.
    ch = await this.d.channels.get(id, { fresh: true });
    if (both(ch)) return this.view(me.userId, ch!);
    const trusted = await this.trusts(me.userId, peer.userId);
    const want = [me.userId, ...(trusted ? [peer.userId] : [])].filter((u) => !ch || !memberOf(ch, u));
    const mustInvite = !trusted && !(ch && memberOf(ch, peer.userId));
    await this.checkChannelRoom(want);
    if (mustInvite) await this.takeInviteTokens(me.userId, 1);
    if (!ch) {
      const createdAtMs = this.d.now();
      ch = await this.d.channels.createDirect({
        id,
        kind: 'direct',
        title: '',
        createdAtMs,
        members: want.map((userId): Member => ({ userId, role: 'member' })),
      });
      // Only a channel this call created gets a fresh counter: an existing one's counter may have been lost, never reset it.
      if (ch.createdAtMs === createdAtMs) await this.d.sequencer.open(id);
    }
    const missing = want.filter((u) => !memberOf(ch!, u));
    if (missing.length)
      ch = await this.d.channels.addMembers(
        id,
        missing.map((userId): Member => ({ userId, role: 'member' })),
        2,
      );
    await this.d.safety.takeInvitation(me.userId, id);
    await this.announce(id, want, 'joined', me.userId);
    if (mustInvite) await this.invite(me.userId, ch, [peer]);
    return this.view(me.userId, ch);
  }

  /**
   * Joins the channel of a pending invitation: a group at its current head, a
   * direct channel from its start (the messages written meanwhile arrive).
   */
  async acceptInvite(p: Principal, channelId: string): Promise<ChannelView> {
    const me = requireUser(p);
    checkChannelId(channelId);
    const inv = (await this.d.safety.invitations(me.userId)).find((i) => i.channelId === channelId);
    if (!inv) throw notFound(`you have no invitation to channel ${channelId}`);
    let ch = await this.d.channels.get(channelId, { fresh: true });
    if (ch && !memberOf(ch, me.userId)) {
      await this.checkChannelRoom([me.userId]);
      const head = ch.kind === 'group' ? await this.d.sequencer.current(channelId) : 0;
      const cap = ch.kind === 'direct' ? 2 : this.d.settings.maxGroupMembers;
      ch = await this.d.channels.addMembers(channelId, [{ userId: me.userId, role: 'member' }], cap);
      if (head) await this.startDevicesAt(me.userId, channelId, head);
      await this.announce(channelId, [me.userId], 'joined', inv.inviterUserId);
    }
    await this.d.safety.takeInvitation(me.userId, channelId);
    if (!ch) throw notFound(`channel ${channelId} no longer exists`);
    return this.view(me.userId, ch);
  }

  /** The caller's pending invitations, oldest first, as the invitee sees them. */
  async invitations(p: Principal): Promise<InvitationInfo[]> {
    const me = requireUser(p);
    const list = await this.d.safety.invitations(me.userId);
    const out = await Promise.all(
      list.map(async (i) => {
        const [ch, inviter] = await Promise.all([this.d.channels.get(i.channelId), this.d.accounts.byId(i.inviterUserId)]);
        return ch ? infoOf(ch, i.inviterUserId, inviter?.userName ?? '', i.createdAtMs) : undefined;
      }),
    );
    return out.filter((i): i is InvitationInfo => !!i);
  }

  /** Splits users to add into members (accepted contacts, or everyone without consent) and invitees; refuses blocked ones. */
  private async sortOut(me: string, others: Account[]): Promise<{ add: Account[]; invite: Account[] }> {
    const hidden = await this.blocks.hiddenFrom(me);
    const refused = others.find((a) => hidden.has(a.userId));
    if (refused) throw denied(`you cannot add ${refused.userName}`);
    if (this.d.settings.consent === 'open' || others.length === 0) return { add: others, invite: [] };
    const contacts = await this.contactsOf(me);
    return { add: others.filter((a) => contacts.has(a.userId)), invite: others.filter((a) => !contacts.has(a.userId)) };
  }

  /** Whether `a` may add `b` without asking: no consent required, or they share an accepted channel. */
  private async trusts(a: string, b: string): Promise<boolean> {
    return this.d.settings.consent === 'open' || (await this.contactsOf(a)).has(b);
  }

  /** One token per invitation from the inviter's cluster-wide bucket (CHAT_INVITE_RATE_PER_MIN); refuses before anything is created. */
  private async takeInviteTokens(userId: string, n: number) {
    if (n === 0) return;
    const { inviteRatePerMin, inviteBurst } = this.d.settings;
    const waits = await Promise.all(Array.from({ length: n }, () => this.d.rateLimiter.take(`invite:${userId}`, inviteRatePerMin / 60, inviteBurst)));
    const wait = Math.max(...waits);
    if (wait > 0) throw exhausted(`inviting too fast: at most ${inviteRatePerMin} invitations per minute; retry in ${wait} ms`, wait);
  }

  /** Stores the invitations (the invitee's oldest past CHAT_MAX_PENDING_INVITES expire) and tells each invitee's streams. */
  private async invite(inviterUserId: string, ch: Channel, invitees: Account[]) {
    if (invitees.length === 0) return;
    const inviter = await this.d.accounts.byId(inviterUserId);
    const createdAtMs = this.d.now();
    await Promise.all(
      invitees.map(async (a) => {
        await this.d.safety.invite({ channelId: ch.id, inviteeUserId: a.userId, inviterUserId, createdAtMs }, this.d.settings.maxPendingInvites);
        const invitation = infoOf(ch, inviterUserId, inviter?.userName ?? '', createdAtMs);
        await this.d.fanout.publish(userTopic(a.userId), { type: 'invited', invitation });
      }),
    );
  }

  /** Every user must have room for one more channel (CHAT_MAX_CHANNELS_PER_USER). */
  private async checkChannelRoom(userIds: string[]) {
    const max = this.d.settings.maxChannelsPerUser;
    const counts = await Promise.all(userIds.map(async (u) => [u, (await this.d.channels.channelsOf(u)).length] as const));
    const full = counts.find(([, n]) => n >= max);
    if (full) throw precondition(`user ${full[0]} is already in ${max} channels, the most one user may join`);
  }

  /** Users who share at least one accepted channel with `userId` and neither blocked the other (presence visibility). */
  async contactsOf(userId: string): Promise<Set<string>> {
    const [ids, hidden] = await Promise.all([this.d.channels.channelsOf(userId), this.blocks.hiddenFrom(userId)]);
    const out = new Set<string>();
    for (const ch of await Promise.all(ids.map((id) => this.d.channels.get(id)))) {
      for (const m of ch?.members ?? []) if (m.userId !== userId && !hidden.has(m.userId)) out.add(m.userId);
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

function infoOf(ch: Channel, inviterUserId: string, inviterUserName: string, createdAtMs: number): InvitationInfo {
  return { channelId: ch.id, kind: ch.kind, title: ch.title, inviterUserId, inviterUserName, createdAtMs };
}

export function requireUser(p: Principal) {
  if (p.kind !== 'user') throw denied('this call needs a user token, not a service credential');
  return p;
}
