import type { ServerWritableStream } from '@grpc/grpc-js';
import type { PresenceWatch } from '../core/PresenceWatch.js';
import { isUser } from '../domain/model.js';
import { denied } from '../domain/errors.js';
import type { PresenceEvent, PresenceServiceServer, WatchPresenceRequest } from '../gen/chat/v1/presence.js';
import { toStatus } from './errors.js';
import { authenticate, unary, type TransportDeps } from './handler.js';
import { toProtoPresence } from './mapping.js';

/** chat.v1.PresenceService. */
export function presenceService(deps: TransportDeps): PresenceServiceServer {
  const { core } = deps;
  return {
    heartbeat: unary(deps, async (_req, { principal }) => {
      if (!isUser(principal)) throw denied('only devices heartbeat');
      await core.presence.heartbeat(principal.userId, principal.deviceId);
      return { intervalMs: core.deps.settings.heartbeatIntervalMs };
    }),
    getPresence: unary(deps, async (req, { principal }) => ({
      presences: (await core.visiblePresence(principal, req.userIds)).map(toProtoPresence),
    })),
    watchPresence: (call: ServerWritableStream<WatchPresenceRequest, PresenceEvent>) => {
      let watch: PresenceWatch | undefined;
      let done = false;
      const cleanup = () => {
        if (done) return;
        done = true;
        watch?.close();
      };
      for (const ev of ['cancelled', 'close', 'finish', 'error'] as const) call.once(ev, cleanup);
      (async () => {
        const p = await authenticate(core, call as ServerWritableStream<unknown, unknown>);
        const w = await core.watchPresence(p, call.request.userIds, (presence) => {
          if (!done) call.write({ presence: toProtoPresence(presence) });
        });
        if (done) w.close();
        else watch = w;
      })().catch((e) => {
        const st = toStatus(e, deps.log);
        call.emit('error', { code: st.code, details: st.details });
        cleanup();
      });
    },
  };
}
