import type { ChatServiceServer } from '../gen/chat/v1/chat.js';
import { requireUser } from '../core/Channels.js';
import { unary, type TransportDeps } from './handler.js';
import { fromProtoCursors, toProtoChannel, toProtoCursors, toProtoInvitation, toProtoMessage } from './mapping.js';
import { connectHandler, subscribeHandler } from './streams.js';

/** chat.v1.ChatService: proto in, use case, proto out. */
export function chatService(deps: TransportDeps): ChatServiceServer {
  const { core } = deps;
  const { messaging, channels } = core;
  return {
    connect: connectHandler(deps),
    subscribe: subscribeHandler(deps),
    sendMessage: unary(deps, async (req, { principal }) => {
      const r = await messaging.send(principal, req.channelId, req.clientMsgId, req.body);
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
      return { messages: r.messages.map(toProtoMessage), hasMore: r.hasMore, cursors: toProtoCursors(r.cursors) };
    }),
    listHistory: unary(deps, async (req, { principal }) => {
      const r = await messaging.history(principal, req.channelId, req.beforeId, req.limit);
      return { messages: r.messages.map(toProtoMessage), nextBeforeId: r.nextBeforeId };
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
