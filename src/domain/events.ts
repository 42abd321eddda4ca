import type { Cursor, Message, PresenceInfo } from './model.js';

/**
 * What travels on fan-out topics and down to devices. Topics:
 * `ch:<channelId>` carries message, receipt, typing and membership events of a
 * channel; `u:<userId>` carries membership changes that concern the user;
 * `p:<userId>` carries the user's presence transitions.
 */
export type MembershipChange = 'joined' | 'left' | 'removed';

/** A pending invitation as its invitee sees it. */
export interface InvitationInfo {
  channelId: string;
  kind: 'direct' | 'group';
  title: string;
  inviterUserId: string;
  inviterUserName: string;
  createdAtMs: number;
}

export type ChatEvent =
  /** `viewer`: the user a message with reactions is written for (their `me`). */
  | { type: 'message'; message: Message; viewer?: string }
  | { type: 'receipt'; channelId: string; userId: string; deviceId: string; lastReadMessageId: number }
  /** A 1:1 member's devices have received the channel up to an id (the highest any of them acked). */
  | { type: 'delivery'; channelId: string; userId: string; lastDeliveredMessageId: number }
  | { type: 'typing'; channelId: string; userId: string; deviceId: string; typing: boolean }
  | { type: 'membership'; channelId: string; userId: string; change: MembershipChange; byUserId: string }
  | { type: 'presence'; presence: PresenceInfo }
  /** On `u:<invitee>`: a new invitation. */
  | { type: 'invited'; invitation: InvitationInfo }
  /** On `u:<userId>`, never sent to a device: a block between this user and another changed; presence visibility must be checked again. */
  | { type: 'contactsChanged'; userId: string }
  /** Between nodes only (topic `blocks`): these users' block lists changed; drop any cached copy. */
  | { type: 'blocksChanged'; userIds: string[] }
  /** Between nodes only (topic `channels`): a channel's membership changed; drop any cached copy. */
  | { type: 'channelChanged'; channelId: string }
  /** Between nodes only (topic `sessions`): tokens of the device below `gen` are revoked; end its streams. */
  | { type: 'deviceRevoked'; userId: string; deviceId: string; gen: number }
  /** Between nodes only (topic `sessions`): the account is gone; end all its streams. */
  | { type: 'accountDeleted'; userId: string };

type DeviceEvent = Exclude<ChatEvent, { type: 'channelChanged' | 'deviceRevoked' | 'accountDeleted' | 'contactsChanged' | 'blocksChanged' }>;

/** Frames that exist only between a session and its device. */
export type SessionEvent =
  | DeviceEvent
  | { type: 'caughtUp'; cursors: Cursor[] }
  | { type: 'sendAck'; clientMsgId: string; channelId: string; messageId: number; sentAtMs: number; duplicate: boolean }
  | { type: 'sendError'; clientMsgId: string; code: number; message: string }
  | { type: 'frameError'; frame: string; code: number; message: string }
  | { type: 'reconnect'; nodeId: string; address: string; region: string; reason: string };

export const channelTopic = (channelId: string) => `ch:${channelId}`;
export const userTopic = (userId: string) => `u:${userId}`;
export const presenceTopic = (userId: string) => `p:${userId}`;
/** Every node listens here for channelChanged events (cache invalidation). */
export const CHANNELS_TOPIC = 'channels';
/** Every node listens here for blocksChanged events (block-list cache invalidation). */
export const BLOCKS_TOPIC = 'blocks';
/** Every node listens here for deviceRevoked and accountDeleted events. */
export const SESSIONS_TOPIC = 'sessions';
