import type { ChatServiceServer } from '../gen/chat/v1/chat.js';
import { requireUser } from '../core/Channels.js';
import { unary, type TransportDeps } from './handler.js';
import { fromProtoCursors, toProtoChannel, toProtoCursors, toProtoInvitation, toProtoMessage, toProtoReactions } from './mapping.js';
import type { Principal } from '../domain/model.js';

const viewerOf = (p: Principal) => (p.kind === 'user' ? p.userId : undefined);
import { connectHandler, subscribeHandler } from './streams.js';

/** chat.v1.ChatService: proto in, use case, proto out. */
export function chatService(deps: TransportDeps): ChatServiceServer {
  const { core } = deps;
  const { messaging, channels } = core;
  return {
    connect: connectHandler(deps),
    subscribe: subscribeHandler(deps),
    sendMessage: unary(deps, async (req, { principal }) => {
      const r = await messaging.send(principal, req.channelId, req.clientMsgId, req.body, req.replyToId, req.firstAttempt);
      if (!r.duplicate) deps.metrics.accepted.inc();
      return { message: toProtoMessage(r.message), duplicate: r.duplicate };
    }),
    markRead: unary(deps, async (req, { principal }) => {
      await messaging.markRead(principal, req.channelId, req.lastReadMessageId);
      return {};
    }),
    ackDelivered: unary(deps, async (req, { principal }) => {
      await messaging.ackDelivered(principal, fromProtoCursors(req.cursors));
      return {};
    }),
    setTyping: unary(deps, async (req, { principal }) => {
      await messaging.typing(principal, req.channelId, req.typing);
      return {};
    }),
    syncMessages: unary(deps, async (req, { principal }) => {
      const r = await messaging.sync(principal, fromProtoCursors(req.cursors), req.limit);
      const viewer = viewerOf(principal);
      return { messages: r.messages.map((m) => toProtoMessage(m, viewer)), hasMore: r.hasMore, cursors: toProtoCursors(r.cursors) };
    }),
    listHistory: unary(deps, async (req, { principal }) => {
      const r = await messaging.history(principal, req.channelId, req.beforeId, req.limit);
      const viewer = viewerOf(principal);
      return { messages: r.messages.map((m) => toProtoMessage(m, viewer)), nextBeforeId: r.nextBeforeId };
    }),
    editMessage: unary(deps, async (req, { principal }) => {
      const r = await core.lifecycle.edit(principal, req.channelId, req.messageId, req.clientMsgId, req.body);
      return { entry: toProtoMessage(r.entry), duplicate: r.duplicate };
    }),
    deleteMessage: unary(deps, async (req, { principal }) => ({
      entry: toProtoMessage(await core.lifecycle.remove(principal, req.channelId, req.messageId)),
    })),
    react: unary(deps, async (req, { principal }) => {
      const r = await core.lifecycle.react(principal, req.channelId, req.messageId, req.emoji, req.remove);
      return { entry: r.entry && toProtoMessage(r.entry), reactions: toProtoReactions(r.reactions, viewerOf(principal)) };
    }),
    getReceipts: unary(deps, async (req, { principal }) => {
      const r = await core.lifecycle.receipts(principal, req.channelId, req.messageId);
      return {
        memberCount: r.memberCount,
        receivedCount: r.receivedBy.length,
        readCount: r.readBy.length,
        receivedBy: r.receivedBy,
        readBy: r.readBy,
      };
    }),
    createGroup: unary(deps, async (req, { principal }) => ({
      channel: toProtoChannel(await channels.createGroup(principal, req.title, req.members)),
    })),
    addMembers: unary(deps, async (req, { principal }) => ({
      channel: toProtoChannel(await channels.addMembers(principal, req.channelId, req.members)),
    })),
    removeMember: unary(deps, async (req, { principal }) => {
      await channels.removeMember(principal, req.channelId, req.member);
      return {};
    }),
    leaveChannel: unary(deps, async (req, { principal }) => {
      await channels.leave(principal, req.channelId);
      return {};
    }),
    listChannels: unary(deps, async (_req, { principal }) => {
      const [list, invitations] = await Promise.all([channels.list(principal), channels.invitations(principal)]);
      return { channels: list.map(toProtoChannel), invitations: invitations.map(toProtoInvitation) };
    }),
    describeChannel: unary(deps, async (req, { principal }) => ({
      channel: toProtoChannel(await channels.get(principal, req.channelId)),
    })),
    openDirect: unary(deps, async (req, { principal }) => {
      requireUser(principal);
      return { channel: toProtoChannel(await channels.openDirect(principal, req.peer)) };
    }),
  };
}
