import type { InvitationInfo, SessionEvent } from '../domain/events.js';
import { encodeMessageFrame, encodeSendAckFrame } from './frameCodec.js';
import type { Cursor, Message, PresenceInfo, Reaction } from '../domain/model.js';
import type { ChannelView } from '../core/Channels.js';
import { ChannelKind, MemberRole, MembershipChange, ServerFrame, type Channel as PChannel, type Invitation as PInvitation } from '../gen/chat/v1/chat.js';
import { Message as PMessage, MessageKind, PresenceState, type ChannelCursor, type Presence, type ReactionCount } from '../gen/chat/v1/common.js';

/** Domain <-> proto conversions. Nothing here decides anything. */

const KIND = {
  user: MessageKind.MESSAGE_KIND_USER,
  system: MessageKind.MESSAGE_KIND_SYSTEM,
  edit: MessageKind.MESSAGE_KIND_EDIT,
  delete: MessageKind.MESSAGE_KIND_DELETE,
  reaction: MessageKind.MESSAGE_KIND_REACTION,
};

/** Reactions as counts; `me` for `viewer` (the user the message is written for). */
export const toProtoReactions = (rs: Reaction[] | undefined, viewer?: string): ReactionCount[] =>
  (rs ?? []).map((r) => ({ emoji: r.emoji, count: r.userIds.length, me: viewer !== undefined && r.userIds.includes(viewer) }));

/**
 * `viewer`: whose `me` the reaction counts carry. Optional parts only where
 * the message has them; a field the proto gains later starts at its default
 * (`create`), so regenerating the code is all a new field needs here.
 */
export function toProtoMessage(m: Message, viewer?: string): PMessage {
  const out = PMessage.create({
    channelId: m.channelId,
    id: m.id,
    senderUserId: m.senderUserId,
    senderDeviceId: m.senderDeviceId,
    clientMsgId: m.clientMsgId,
    body: m.body,
    sentAtMs: m.sentAtMs,
    kind: KIND[m.kind] ?? MessageKind.MESSAGE_KIND_USER,
  });
  if (m.replyToId) out.replyToId = m.replyToId;
  if (m.editCount || m.deleted || m.reactions?.length || m.lastChangeId) {
    out.state = {
      editedAtMs: m.editedAtMs ?? 0,
      editCount: m.editCount ?? 0,
      deleted: m.deleted ?? false,
      reactions: toProtoReactions(m.reactions, viewer),
      lastChangeId: m.lastChangeId ?? 0,
    };
  }
  if (m.targetId) out.change = { targetId: m.targetId, emoji: m.emoji ?? '', reactionRemoved: m.reactionRemoved ?? false };
  return out;
}

export const toProtoPresence = (p: PresenceInfo): Presence => ({
  userId: p.userId,
  state: p.hidden ? PresenceState.PRESENCE_STATE_HIDDEN : p.online ? PresenceState.PRESENCE_STATE_ONLINE : PresenceState.PRESENCE_STATE_OFFLINE,
  lastActiveAtMs: p.hidden ? 0 : p.lastActiveAtMs,
});

export const fromProtoCursors = (cs: ChannelCursor[]): Cursor[] => cs.map((c) => ({ channelId: c.channelId, lastMessageId: c.lastMessageId }));

export const toProtoCursors = (cs: Cursor[]): ChannelCursor[] => cs.map((c) => ({ channelId: c.channelId, lastMessageId: c.lastMessageId }));

const ROLE = { member: MemberRole.MEMBER_ROLE_MEMBER, admin: MemberRole.MEMBER_ROLE_ADMIN, owner: MemberRole.MEMBER_ROLE_OWNER };

export const toProtoChannel = (v: ChannelView): PChannel => ({
  channelId: v.channel.id,
  kind: v.channel.kind === 'direct' ? ChannelKind.CHANNEL_KIND_DIRECT : ChannelKind.CHANNEL_KIND_GROUP,
  title: v.channel.title,
  members: v.channel.members.map((m) => ({ userId: m.userId, role: ROLE[m.role], userName: v.memberNames.get(m.userId) ?? '' })),
  lastMessageId: v.lastMessageId,
  lastReadMessageId: v.lastReadMessageId,
  unreadCount: v.unreadCount,
  createdAtMs: v.channel.createdAtMs,
});

export const toProtoInvitation = (i: InvitationInfo): PInvitation => ({
  channelId: i.channelId,
  kind: i.kind === 'direct' ? ChannelKind.CHANNEL_KIND_DIRECT : ChannelKind.CHANNEL_KIND_GROUP,
  title: i.title,
  inviterUserId: i.inviterUserId,
  inviterUserName: i.inviterUserName,
  createdAtMs: i.createdAtMs,
});

const CHANGE = {
  joined: MembershipChange.MEMBERSHIP_CHANGE_JOINED,
  left: MembershipChange.MEMBERSHIP_CHANGE_LEFT,
  removed: MembershipChange.MEMBERSHIP_CHANGE_REMOVED,
};

export function toServerFrame(ev: SessionEvent): ServerFrame {
  switch (ev.type) {
    case 'message':
      return { frame: { $case: 'message', message: toProtoMessage(ev.message, ev.viewer) } };
    case 'delivery':
      return { frame: { $case: 'delivery', delivery: { channelId: ev.channelId, userId: ev.userId, lastDeliveredMessageId: ev.lastDeliveredMessageId } } };
    case 'receipt':
      return {
        frame: { $case: 'receipt', receipt: { channelId: ev.channelId, userId: ev.userId, deviceId: ev.deviceId, lastReadMessageId: ev.lastReadMessageId } },
      };
    case 'typing':
      return { frame: { $case: 'typing', typing: { channelId: ev.channelId, userId: ev.userId, deviceId: ev.deviceId, typing: ev.typing } } };
    case 'presence':
      return { frame: { $case: 'presence', presence: toProtoPresence(ev.presence) } };
    case 'membership':
      return { frame: { $case: 'membership', membership: { channelId: ev.channelId, userId: ev.userId, change: CHANGE[ev.change], byUserId: ev.byUserId } } };
    case 'invited':
      return { frame: { $case: 'invitation', invitation: toProtoInvitation(ev.invitation) } };
    case 'caughtUp':
      return { frame: { $case: 'caughtUp', caughtUp: { cursors: toProtoCursors(ev.cursors) } } };
    case 'sendAck':
      return {
        frame: {
          $case: 'sendAck',
          sendAck: { clientMsgId: ev.clientMsgId, channelId: ev.channelId, messageId: ev.messageId, sentAtMs: ev.sentAtMs, duplicate: ev.duplicate },
        },
      };
    case 'sendError':
      return { frame: { $case: 'sendError', sendError: { clientMsgId: ev.clientMsgId, code: ev.code, message: ev.message } } };
    case 'frameError':
      return { frame: { $case: 'error', error: { frame: ev.frame, code: ev.code, message: ev.message } } };
    case 'reconnect':
      return { frame: { $case: 'reconnect', reconnect: { server: { nodeId: ev.nodeId, address: ev.address, region: ev.region }, reason: ev.reason } } };
  }
}

/**
 * Fan-out encodes once: the same Message object (or event object) reaches
 * every local session, so its frame bytes are computed on first use and
 * shared by every stream that writes it. Message frames are keyed by the
 * Message itself, since each session wraps it in its own event. A send_ack
 * goes to one stream only: it is encoded without the cache.
 */
const encoded = new WeakMap<object, Buffer>();

/** `counts.framesEncoded` counts the frames serialized (the node's metrics; the benchmark checks that fan-out encodes once). */
export function encodeEvent(ev: SessionEvent, counts: { framesEncoded: number }): Buffer {
  if (ev.type === 'sendAck') {
    counts.framesEncoded++;
    return encodeSendAckFrame(ev) ?? Buffer.from(ServerFrame.encode(toServerFrame(ev)).finish());
  }
  // A message with reactions is written for one viewer (`me`): not shared, not cached.
  if (ev.type === 'message' && ev.message.reactions?.length) {
    counts.framesEncoded++;
    return Buffer.from(ServerFrame.encode(toServerFrame(ev)).finish());
  }
  const key = ev.type === 'message' ? ev.message : ev;
  let buf = encoded.get(key);
  if (!buf) {
    counts.framesEncoded++;
    buf = (ev.type === 'message' ? encodeMessageFrame(ev.message) : undefined) ?? Buffer.from(ServerFrame.encode(toServerFrame(ev)).finish());
    encoded.set(key, buf);
  }
  return buf;
}
