import { notFound } from '../../domain/errors.js';
import type { Channel, Member, Role } from '../../domain/model.js';
import { checkCapacity } from '../../domain/rules.js';
import type { ChannelStore } from '../../ports/ChannelStore.js';

/** Channels in process memory. Single-threaded JS makes every method atomic. */
export class MemoryChannelStore implements ChannelStore {
  private readonly channels = new Map<string, Channel>();
  private readonly memberships = new Map<string, Set<string>>();

  async create(channel: Channel) {
    this.channels.set(channel.id, clone(channel));
    for (const m of channel.members) this.index(m.userId).add(channel.id);
  }

  async createDirect(channel: Channel) {
    const existing = this.channels.get(channel.id);
    if (existing) return clone(existing);
    await this.create(channel);
    return clone(channel);
  }

  async get(channelId: string) {
    const ch = this.channels.get(channelId);
    return ch && clone(ch);
  }

  async addMembers(channelId: string, members: Member[], maxMembers: number) {
    const ch = this.channels.get(channelId);
    if (!ch) throw notFound(`channel ${channelId} does not exist`);
    const fresh = members.filter((m) => !ch.members.some((x) => x.userId === m.userId));
    checkCapacity(ch.members.length, fresh.length, { maxGroupMembers: maxMembers, maxBodyBytes: 0, maxGroupTitle: 0 });
    for (const m of fresh) {
      ch.members.push({ ...m });
      this.index(m.userId).add(channelId);
    }
    return clone(ch);
  }

  async removeMember(channelId: string, userId: string) {
    const ch = this.channels.get(channelId);
    if (!ch) return false;
    const before = ch.members.length;
    ch.members = ch.members.filter((m) => m.userId !== userId);
    this.memberships.get(userId)?.delete(channelId);
    return ch.members.length !== before;
  }

  async setRole(channelId: string, userId: string, role: Role) {
    const m = this.channels.get(channelId)?.members.find((x) => x.userId === userId);
    if (m) m.role = role;
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
