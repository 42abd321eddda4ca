import type { Channel, Member, Role } from '../domain/model.js';
import type { ChannelStore } from '../ports/ChannelStore.js';
import type { Fanout } from '../ports/Fanout.js';
import { CHANNELS_TOPIC } from '../domain/events.js';

/** Channels remembered at most; past this the oldest entries go first. */
const MAX_ENTRIES = 100_000;

/**
 * Keeps channels read from a remote store for `ttlMs`, so the send path
 * (which loads the channel to check membership on every message) does not
 * read the database per message. Writes made through this node drop the
 * entry at once; a membership change made on another node drops it when that
 * node's channelChanged event arrives (see `invalidateOn`), and within `ttlMs`
 * at the latest if the broker lost it. (A member added elsewhere is not
 * refused meanwhile: callers re-read with `fresh` before refusing.) Cached channels are frozen: callers
 * share them.
 */
export class CachedChannelStore implements ChannelStore {
  private readonly entries = new Map<string, { channel: Channel | undefined; until: number }>();
  /** Bumped by every local write, so a read that started before it is not cached after it. */
  private generation = 0;

  constructor(
    private readonly inner: ChannelStore,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(channelId: string, opts?: { fresh?: boolean }): Promise<Channel | undefined> {
    const hit = this.entries.get(channelId);
    if (hit && hit.until > this.now() && !opts?.fresh) return hit.channel;
    const gen = this.generation;
    const channel = freeze(await this.inner.get(channelId));
    if (gen === this.generation) this.remember(channelId, channel);
    return channel;
  }

  peek(channelId: string): Channel | undefined {
    const hit = this.entries.get(channelId);
    return hit && hit.until > this.now() ? hit.channel : undefined;
  }

  async create(channel: Channel) {
    this.forget(channel.id);
    await this.inner.create(channel);
  }

  async createDirect(channel: Channel) {
    this.forget(channel.id);
    return this.inner.createDirect(channel);
  }

  async addMembers(channelId: string, members: Member[], maxMembers: number) {
    this.forget(channelId);
    try {
      return await this.inner.addMembers(channelId, members, maxMembers);
    } finally {
      this.forget(channelId);
    }
  }

  async removeMember(channelId: string, userId: string) {
    this.forget(channelId);
    try {
      return await this.inner.removeMember(channelId, userId);
    } finally {
      this.forget(channelId);
    }
  }

  async setRole(channelId: string, userId: string, role: Role) {
    this.forget(channelId);
    try {
      await this.inner.setRole(channelId, userId, role);
    } finally {
      this.forget(channelId);
    }
  }

  channelsOf(userId: string) {
    return this.inner.channelsOf(userId);
  }

  private remember(channelId: string, channel: Channel | undefined) {
    // A channel that does not exist yet is not remembered: it may be created in a moment.
    if (!channel) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.delete(channelId);
    this.entries.set(channelId, { channel, until: this.now() + this.ttlMs });
  }

  /** Drops every cached channel (the broker may have lost invalidations). */
  clear() {
    this.generation++;
    this.entries.clear();
  }

  /** Drops one channel: a write here, or a channelChanged event from another node. */
  forget(channelId: string) {
    this.generation++;
    this.entries.delete(channelId);
  }
}

/** Wires a cache to the fan-out: channelChanged events and broker resets drop cached channels. */
export function invalidateOn(cache: CachedChannelStore, fanout: Fanout): () => void {
  const sub = fanout.subscribe(CHANNELS_TOPIC, (ev) => {
    if (ev.type === 'channelChanged') cache.forget(ev.channelId);
  });
  const unreset = fanout.onReset(() => cache.clear());
  return () => {
    sub.off();
    unreset();
  };
}

function freeze(c: Channel | undefined): Channel | undefined {
  if (!c || Object.isFrozen(c)) return c;
  for (const m of c.members) Object.freeze(m);
  Object.freeze(c.members);
  return Object.freeze(c);
}
