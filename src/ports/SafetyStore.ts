/** A pending invitation of `inviteeUserId` to `channelId`. */
export interface Invitation {
  channelId: string;
  inviteeUserId: string;
  inviterUserId: string;
  createdAtMs: number;
}

/** Both directions of one user's blocks. */
export interface BlockLists {
  /** Users this user blocked, with when. */
  blocked: Array<{ userId: string; atMs: number }>;
  /** Users who blocked this user. */
  blockers: string[];
}

/**
 * What users consent to: blocks, pending invitations and channel mutes.
 * Guarantees: every write is an upsert or a delete (blocking or inviting
 * twice keeps one entry, with the later time; removing twice is a no-op); `blocks(u)` reflects a
 * completed `block`/`unblock` by either side. `invite` keeps at most
 * `maxPending` invitations per invitee by dropping the oldest (a race of two
 * invites may leave one more for a moment; the next invite trims it).
 * Failures reject with DomainError('unavailable') and change nothing the
 * caller was told succeeded.
 */
export interface SafetyStore {
  block(blockerUserId: string, blockedUserId: string, atMs: number): Promise<void>;
  /** False when there was no such block. */
  unblock(blockerUserId: string, blockedUserId: string): Promise<boolean>;
  blocks(userId: string): Promise<BlockLists>;
  /** Stores (or refreshes) an invitation; returns the invitations dropped to stay within `maxPending`. */
  invite(inv: Invitation, maxPending: number): Promise<Invitation[]>;
  /** The invitee's pending invitations, oldest first. */
  invitations(inviteeUserId: string): Promise<Invitation[]>;
  /** Removes and returns the invitation (undefined when there was none). */
  takeInvitation(inviteeUserId: string, channelId: string): Promise<Invitation | undefined>;
  /** Mutes a channel for a user until `untilMs`; 0 unmutes. */
  mute(userId: string, channelId: string, untilMs: number): Promise<void>;
  /** The user's mutes still in force at `nowMs`, by channel. */
  mutes(userId: string, nowMs: number): Promise<Map<string, number>>;
}
