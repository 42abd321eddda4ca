import { notFound } from '../../domain/errors.js';
import type { Channel, Member, Role } from '../../domain/model.js';
import { checkCapacity } from '../../domain/rules.js';
import type { ChannelStore } from '../../ports/ChannelStore.js';

/**
 * Channels in process memory. Single-threaded JS makes every method atomic.
 * Stored channels are immutable snapshots (a change stores a new object), so
 * `get` hands out the snapshot itself: no copy of 100 members per send.
 */
export class MemoryChannelStore implements ChannelStore {
  private readonly channels = new Map<string, Channel>();
  private readonly memberships = new Map<string, Set<string>>();

  async create(channel: Channel) {
    this.channels.set(channel.id, freeze(clone(channel)));
    for (const m of channel.members) this.index(m.userId).add(channel.id);
  }

  async createDirect(channel: Channel) {
    const existing = this.channels.get(channel.id);
    if (existing) return existing;
    await this.create(channel);
    return this.channels.get(channel.id)!;
  }

  async get(channelId: string) {
    return this.channels.get(channelId);
  }

  peek(channelId: string) {
    return this.channels.get(channelId);
  }

  async addMembers(channelId: string, members: Member[], maxMembers: number) {
    const ch = this.channels.get(channelId);
    if (!ch) throw notFound(`channel ${channelId} does not exist`);
    const fresh = members.filter((m) => !ch.members.some((x) => x.userId === m.userId));
    checkCapacity(ch.members.length, fresh.length, { maxGroupMembers: maxMembers, maxBodyBytes: 0 });
    const next = freeze({ ...ch, members: [...ch.members, ...fresh] });
    this.channels.set(channelId, next);
    for (const m of fresh) this.index(m.userId).add(channelId);
    return next;
  }

  async removeMember(channelId: string, userId: string) {
    const ch = this.channels.get(channelId);
    if (!ch) return false;
    const members = ch.members.filter((m) => m.userId !== userId);
    this.memberships.get(userId)?.delete(channelId);
    if (members.length === ch.members.length) return false;
    this.channels.set(channelId, freeze({ ...ch, members }));
    return true;
  }

  async setRole(channelId: string, userId: string, role: Role) {
    const ch = this.channels.get(channelId);
    if (!ch?.members.some((x) => x.userId === userId)) return;
    this.channels.set(channelId, freeze({ ...ch, members: ch.members.map((x) => (x.userId === userId ? { ...x, role } : x)) }));
  }

  async channelsOf(userId: string) {
    return [...(this.memberships.get(userId) ?? [])];
  }

  private index(userId: string) {
    let s = this.memberships.get(userId);
    if (!s) this.memberships.set(userId, (s = new Set()));
    return s;
  }
}

const clone = (c: Channel): Channel => ({ ...c, members: c.members.map((m) => ({ ...m })) });

/** Snapshots are shared with callers: freezing makes an accidental write fail loudly. */
function freeze(c: Channel): Channel {
  for (const m of c.members) Object.freeze(m);
  Object.freeze(c.members);
  return Object.freeze(c);
}
