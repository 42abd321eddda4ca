import type { AccountServiceServer } from '../gen/chat/v1/account.js';
import { requireUser } from '../core/Channels.js';
import { openUnary, unary, type TransportDeps } from './handler.js';

/** chat.v1.AccountService. Register and Login are the only calls without a token. */
export function accountService(deps: TransportDeps): AccountServiceServer {
  const { core } = deps;
  return {
    register: openUnary(deps, async (req, { peer }) => core.auth.register(req.userName, req.password, peer)),
    login: openUnary(deps, async (req, { peer }) => core.auth.login(req.userName, req.password, req.deviceId, peer)),
    refreshSession: openUnary(deps, async (req, { peer }) => core.auth.refresh(req.refreshToken, peer)),
    logout: unary(deps, async (_req, { principal }) => {
      const me = requireUser(principal);
      await core.auth.sessions.revoke(me.userId, me.deviceId);
      return {};
    }),
    revokeDevice: unary(deps, async (req, { principal }) => {
      const me = requireUser(principal);
      await core.auth.revokeDevice(me.userId, req.deviceId);
      return {};
    }),
    changePassword: unary(deps, async (req, { principal, peer }) => {
      const me = requireUser(principal);
      return core.auth.changePassword(me.userId, me.deviceId, req.oldPassword, req.newPassword, peer);
    }),
    deleteAccount: unary(deps, async (req, { principal, peer }) => {
      await core.deleteAccount(principal, req.password, peer);
      return {};
    }),
    listDevices: unary(deps, async (_req, { principal }) => {
      const me = requireUser(principal);
      const devices = await core.listDevices(me.userId);
      return { devices: devices.map((d) => ({ deviceId: d.deviceId, createdAtMs: d.createdAtMs, lastActiveAtMs: d.lastActiveAtMs, online: d.online })) };
    }),
  };
}
