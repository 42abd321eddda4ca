import { ChannelKind, type Channel } from '../gen/chat/v1/chat.js';
import type { ChatClient } from '../client/index.js';
import { CliError } from './errors.js';
import { directPeer } from '../domain/ids.js';

/** Channel ids as the server makes them: groups `g_<hex>`, direct channels `d_<uid>_<uid>`. */
const CHANNEL_ID = /^(g_[a-f0-9]{32}|d_u_[a-f0-9]{32}_u_[a-f0-9]{32})$/;
const USER_ID = /^u_[a-f0-9]{32}$/;

/** True when a command-line target is a channel id rather than a user name. */
export const looksLikeChannelId = (s: string) => CHANNEL_ID.test(s) || /^[gd]_/.test(s);

/** True for a user id (`u_<32 hex>`). */
export const isUserId = (s: string) => USER_ID.test(s);

/**
 * The caller's channels and the names of everyone in them, loaded with
 * ListChannels and refreshed per channel with DescribeChannel when something
 * unknown shows up (a new sender, a membership change).
 */
export class Directory {
  private readonly channels = new Map<string, Channel>();
  private readonly names = new Map<string, string>();
  private loaded = false;

  constructor(
    private readonly api: ChatClient,
    private readonly me: { userId: string; userName: string },
  ) {
    this.names.set(me.userId, me.userName);
  }

  /** Loads (or reloads) every channel of the caller. */
  async load(): Promise<Channel[]> {
    const r = await this.api.chat.listChannels({});
    this.channels.clear();
    for (const ch of r.channels) this.remember(ch);
    this.loaded = true;
    return r.channels;
  }

  /** All channels known so far, loading them on first use. */
  async all(): Promise<Channel[]> {
    if (!this.loaded) await this.load();
    return [...this.channels.values()];
  }

  /** Ids of the channels the caller is a member of (as of the last load). */
  ids(): Set<string> {
    return new Set(this.channels.keys());
  }

  /** Records a channel (e.g. from OpenDirect or CreateGroup) and its member names. */
  remember(ch: Channel) {
    this.channels.set(ch.channelId, ch);
    for (const m of ch.members) if (m.userName) this.names.set(m.userId, m.userName);
  }

  /** Forgets a channel the caller left or was removed from. */
  forget(channelId: string) {
    this.channels.delete(channelId);
  }

  /** Fetches one channel again (members change); undefined if no longer readable. */
  async refresh(channelId: string): Promise<Channel | undefined> {
    try {
      const r = await this.api.chat.describeChannel({ channelId });
      if (r.channel) this.remember(r.channel);
      return r.channel;
    } catch {
      return undefined;
    }
  }

  /** A user's name if known, fetching the channel once when it is not. */
  async nameOf(userId: string, channelId?: string): Promise<string> {
    if (!this.names.has(userId) && channelId) await this.refresh(channelId);
    return this.name(userId);
  }

  /** A user's name from the cache: services show as `svc:<name>`, unknown ids as the id. */
  name(userId: string): string {
    return this.names.get(userId) ?? userId;
  }

  /** A short label: `#title` for groups, `@peer` for direct channels. */
  label(channelId: string): string {
    const ch = this.channels.get(channelId);
    if (!ch) return channelId;
    if (ch.kind === ChannelKind.CHANNEL_KIND_GROUP) return `#${ch.title || channelId}`;
    return `@${this.peerName(ch)}`;
  }

  /** The other member of a direct channel (or the title of a group). */
  peerName(ch: Channel): string {
    if (ch.kind === ChannelKind.CHANNEL_KIND_GROUP) return ch.title;
    const peer = ch.members.find((m) => m.userId !== this.me.userId);
    if (peer) return peer.userName || this.name(peer.userId);
    // Only the caller is a member: the peer has not accepted the invitation yet.
    return `${this.name(directPeer(ch.channelId, this.me.userId))} (invited)`;
  }

  /** Looks a channel up in the cache. */
  get(channelId: string): Channel | undefined {
    return this.channels.get(channelId);
  }

  /**
   * A command-line target to a channel: a channel id as is, `#title` for a
   * group the caller is in, anything else a user (OpenDirect, created once).
   */
  async resolveTarget(target: string): Promise<string> {
    if (!target) throw new CliError('missing target: a user name or a channel id');
    if (looksLikeChannelId(target)) return target;
    if (target.startsWith('#')) {
      const title = target.slice(1);
      const hits = (await this.all()).filter((c) => c.kind === ChannelKind.CHANNEL_KIND_GROUP && c.title === title);
      if (hits.length === 1) return hits[0]!.channelId;
      if (hits.length === 0) throw new CliError(`you are in no group titled "${title}" (see: chat channels)`);
      throw new CliError(`several groups are titled "${title}"; use the channel id (see: chat channels)`);
    }
    const r = await this.api.chat.openDirect({ peer: target });
    if (!r.channel) throw new CliError('OpenDirect returned no channel');
    this.remember(r.channel);
    // A stranger is only invited until they accept, so the channel lists no peer yet: keep the name typed.
    const peerId = directPeer(r.channel.channelId, this.me.userId);
    if (!this.names.has(peerId) && !target.startsWith('u_')) this.names.set(peerId, target);
    return r.channel.channelId;
  }

  /** User names (or ids) to ids, using the members of the caller's channels. */
  async userIds(refs: string[]): Promise<string[]> {
    const byName = new Map<string, string>();
    for (const ch of await this.load()) for (const m of ch.members) byName.set(m.userName, m.userId);
    byName.set(this.me.userName, this.me.userId);
    return refs.map((ref) => {
      if (isUserId(ref)) return ref;
      const id = byName.get(ref);
      if (!id) throw new CliError(`"${ref}" shares no channel with you (presence is only visible to contacts)`);
      return id;
    });
  }
}
