import type { SafetyServiceServer } from '../gen/chat/v1/safety.js';
import { unary, type TransportDeps } from './handler.js';
import { toProtoChannel, toProtoInvitation } from './mapping.js';

/** chat.v1.SafetyService: blocking, invitations and mute (see safety.proto). */
export function safetyService(deps: TransportDeps): SafetyServiceServer {
  const { channels, safety } = deps.core;
  return {
    blockUser: unary(deps, async (req, { principal }) => {
      await safety.block(principal, req.user);
      return {};
    }),
    unblockUser: unary(deps, async (req, { principal }) => {
      await safety.unblock(principal, req.user);
      return {};
    }),
    listBlocked: unary(deps, async (_req, { principal }) => ({
      users: (await safety.listBlocked(principal)).map((b) => ({ userId: b.userId, userName: b.userName, blockedAtMs: b.atMs })),
    })),
    listInvitations: unary(deps, async (_req, { principal }) => ({
      invitations: (await channels.invitations(principal)).map(toProtoInvitation),
    })),
    acceptInvite: unary(deps, async (req, { principal }) => ({
      channel: toProtoChannel(await channels.acceptInvite(principal, req.channelId)),
    })),
    declineInvite: unary(deps, async (req, { principal }) => {
      await safety.decline(principal, req.channelId, req.block);
      return {};
    }),
    muteChannel: unary(deps, async (req, { principal }) => {
      await safety.mute(principal, req.channelId, req.untilMs);
      return {};
    }),
  };
}
