/** Core data types shared by use cases, ports and adapters. */

/** `edit`, `delete` and `reaction` are lifecycle entries: changes to an earlier message, in the channel's id sequence (see domain/lifecycle.ts). */
export type MessageKind = 'user' | 'system' | 'edit' | 'delete' | 'reaction';

/** One emoji on one message and who reacted with it (each user at most once). */
export interface Reaction {
  emoji: string;
  userIds: string[];
}

export interface Message {
  channelId: string;
  /** Per-channel, strictly increasing, assigned by the server. */
  id: number;
  senderUserId: string;
  senderDeviceId: string;
  clientMsgId: string;
  body: string;
  sentAtMs: number;
  kind: MessageKind;
  /** Optional fields, absent on a plain message (so most messages keep one shape). */
  /** The message of the channel this one answers. */
  replyToId?: number;
  /** Current state: last edit time, number of edits, deleted (body erased), reactions, newest entry applied. */
  editedAtMs?: number;
  editCount?: number;
  deleted?: boolean;
  reactions?: Reaction[];
  lastChangeId?: number;
  /** Lifecycle entries: the message changed, and for a reaction the emoji and whether it was taken back. */
  targetId?: number;
  emoji?: string;
  reactionRemoved?: boolean;
}

export type ChannelKind = 'direct' | 'group';
export type Role = 'member' | 'admin' | 'owner';

export interface Member {
  userId: string;
  role: Role;
}

export interface Channel {
  id: string;
  kind: ChannelKind;
  title: string;
  members: Member[];
  createdAtMs: number;
}

/** How far one device has one channel: the highest message id it holds. */
export interface Cursor {
  channelId: string;
  lastMessageId: number;
}

export interface Account {
  userId: string;
  userName: string;
  /** scrypt$N$r$p$salt$hash, see core/passwords.ts. */
  passwordHash: string;
  createdAtMs: number;
}

export interface DeviceRecord {
  userId: string;
  deviceId: string;
  createdAtMs: number;
}

/**
 * The sign-in state of one device. `gen` is the token generation: access
 * tokens carry the generation they were issued under and are refused once it
 * is lower than the device's (revocation raises it). Only the SHA-256 of the
 * current refresh token is stored; `usedHashes` keeps the last few rotated-out
 * hashes so that a replayed refresh token is recognised (theft detection).
 */
export interface DeviceSession {
  userId: string;
  deviceId: string;
  gen: number;
  /** Absent: the device has no valid refresh token (signed out, revoked). */
  refreshHash?: string;
  refreshExpiresAtMs: number;
  usedHashes: string[];
}

export interface PresenceInfo {
  userId: string;
  online: boolean;
  /** Last heartbeat or stream activity; 0 when never seen. */
  lastActiveAtMs: number;
  /** The viewer no longer shares a channel with this user: nothing more about it follows. */
  hidden?: boolean;
}

/** Who is calling: a user on one device, or a trusted backend service. */
export type Principal = { kind: 'user'; userId: string; deviceId: string; gen?: number } | { kind: 'service'; name: string };

export const isUser = (p: Principal): p is Extract<Principal, { kind: 'user' }> => p.kind === 'user';
