import type { ServerWritableStream } from '@grpc/grpc-js';
import type { SessionEvent } from '../domain/events.js';
import { isUser } from '../domain/model.js';
import { denied } from '../domain/errors.js';
import type { PresenceEvent, PresenceServiceServer, WatchPresenceRequest } from '../gen/chat/v1/presence.js';
import { openServerStream } from './serverStream.js';
import { authenticate, unary, type TransportDeps } from './handler.js';
import { toProtoPresence } from './mapping.js';

/** chat.v1.PresenceService. */
export function presenceService(deps: TransportDeps): PresenceServiceServer {
  const { core } = deps;
  return {
    heartbeat: unary(deps, async (_req, { principal }) => {
      if (!isUser(principal)) throw denied('only devices heartbeat');
      await core.presence.heartbeat(principal.userId, principal.deviceId);
      return { intervalMs: core.settings.heartbeatIntervalMs };
    }),
    getPresence: unary(deps, async (req, { principal }) => ({
      presences: (await core.visiblePresence(principal, req.userIds)).map(toProtoPresence),
    })),
    // Through the same server-stream path as Connect: admitted against the user's stream cap, one bounded
    // outbox (presence is ephemeral: coalesced per user, dropped when the watcher is behind), one cleanup.
    watchPresence: (call: ServerWritableStream<WatchPresenceRequest, PresenceEvent>) => {
      const encode = (ev: SessionEvent): PresenceEvent => ({ presence: ev.type === 'presence' ? toProtoPresence(ev.presence) : undefined });
      const s = openServerStream(deps, call as ServerWritableStream<unknown, unknown>, 'server_stream', encode);
      (async () => {
        const p = await authenticate(core, call as ServerWritableStream<unknown, unknown>);
        if (isUser(p)) s.admit(p);
        // Subscribes before the snapshot; withdrawn (one hidden presence) when the last shared channel goes.
        const w = await core.watchPresence(p, call.request.userIds, (presence) => s.out.push({ type: 'presence', presence }));
        if (s.finished) w.close();
        else s.onEnd(() => w.close());
      })().catch(s.fail);
    },
  };
}
