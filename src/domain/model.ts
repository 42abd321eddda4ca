/** Core data types shared by use cases, ports and adapters. */

export type MessageKind = 'user' | 'system';

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
