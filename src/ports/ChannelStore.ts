import type { Channel, Member, Role } from '../domain/model.js';

/**
 * Channels and their members.
 * Guarantees: membership changes of one channel are linearizable; `addMembers`
 * checks the cap and adds atomically (all or nothing), so two racing adds can
 * never push a group past `maxMembers`. `createDirect` returns the existing
 * channel when it already exists.
 */
export interface ChannelStore {
  create(channel: Channel): Promise<void>;
  /** Creates the direct channel once; later calls return the stored one. */
  createDirect(channel: Channel): Promise<Channel>;
  /** `fresh`: skip any cache in front of the store (stores without one ignore it). */
  get(channelId: string, opts?: { fresh?: boolean }): Promise<Channel | undefined>;
  /** The channel, if the store can answer at once (in memory, or a live cache entry); undefined: ask `get`. Optional. */
  peek?(channelId: string): Channel | undefined;
  /** Adds members not already present. Throws failed_precondition past `maxMembers`. Returns the channel after. */
  addMembers(channelId: string, members: Member[], maxMembers: number): Promise<Channel>;
  /** Removes a member; returns false if they were not one. */
  removeMember(channelId: string, userId: string): Promise<boolean>;
  /** Changes a member's role (ownership passing on when an owner leaves). */
  setRole(channelId: string, userId: string, role: Role): Promise<void>;
  /** Ids of the channels a user belongs to. */
  channelsOf(userId: string): Promise<string[]>;
}
