import { pino } from 'pino';
import { ChatCore } from '../core/ChatCore.js';
import { ephemeralStats } from '../core/EphemeralLimits.js';
import type { Logger } from '../core/logger.js';
import type { Ports } from '../core/deps.js';
import { startGrpcServer } from '../transport/server.js';
import { Metrics } from '../transport/metrics.js';
import { countFanout } from './countFanout.js';
import { startGrpcWebServer } from '../transport/grpcWeb.js';
import { fileURLToPath } from 'node:url';
import { PeerResolver } from '../transport/peer.js';

/** <repo>/web, from dist/src/app or src/app. */
const webDir = () => fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../web/' : '../../web/', import.meta.url));
import { compose } from './compose.js';
import { installProcessGuard, unhandledRejections } from './processGuard.js';
import type { Config } from './config.js';

export interface RunningNode {
  core: ChatCore;
  /** The adapters the node runs on (operations and tests look through them; the transport never does). */
  ports: Ports;
  nodeId: string;
  address: string;
  port: number;
  /** Where Prometheus scrapes: http://host:metricsPort/metrics */
  metricsPort: number;
  /** grpc-web endpoint and web client: http://host:webPort/ */
  webPort: number;
  /** grpc-web connections the node holds open from one client address. */
  webConnectionsFrom(peer: string): number;
  /** Drains (NOT_SERVING, leave discovery, redirect clients, finish in-flight calls) and stops. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts one chat node: adapters, use cases, gRPC server, discovery. */
export async function startNode(cfg: Config, log: Logger = pino({ level: cfg.CHAT_LOG_LEVEL }) as unknown as Logger): Promise<RunningNode> {
  installProcessGuard(log);
  const c = await compose(cfg, log);
  const metrics = new Metrics();
  metrics.followTotal(metrics.unhandledRejections, unhandledRejections);
  for (const reason of ['limited', 'coalesced', 'dropped'] as const) {
    metrics.followTotal(metrics.ephemeralDropped.labels({ reason }), () => ephemeralStats[reason]);
  }
  c.ports.fanout = countFanout(c.ports.fanout, (n) => metrics.fanout.observe(n));
  const core = new ChatCore(
    {
      ...c.ports,
      log,
      now: Date.now,
      settings: {
        nodeId: cfg.CHAT_NODE_ID,
        maxBodyBytes: cfg.CHAT_MAX_BODY_BYTES,
        maxGroupMembers: cfg.CHAT_MAX_GROUP_MEMBERS,
        maxGroupTitle: 200,
        presenceTimeoutMs: cfg.CHAT_PRESENCE_TIMEOUT_MS,
        heartbeatIntervalMs: cfg.CHAT_HEARTBEAT_INTERVAL_MS,
        idempotencyTtlMs: cfg.CHAT_IDEMPOTENCY_TTL_MS,
        gapWaitMs: cfg.CHAT_GAP_WAIT_MS,
        holeWindowMs: cfg.CHAT_HOLE_WINDOW_MS,
        editWindowMs: cfg.CHAT_EDIT_WINDOW_MS,
        outboundQueueLimit: cfg.CHAT_OUTBOUND_QUEUE_LIMIT,
        sendsPerSecond: cfg.CHAT_SEND_RATE_PER_SEC,
        sendBurst: cfg.CHAT_SEND_BURST,
        typingPerSecond: cfg.CHAT_TYPING_RATE_PER_SEC,
        typingBurst: cfg.CHAT_TYPING_BURST,
        marksPerSecond: cfg.CHAT_MARK_RATE_PER_SEC,
        marksBurst: cfg.CHAT_MARK_BURST,
        loginAttemptsPerMinute: cfg.CHAT_LOGIN_ATTEMPTS_PER_MIN,
        maxChannelsPerUser: cfg.CHAT_MAX_CHANNELS_PER_USER,
        maxStreamsPerUser: cfg.CHAT_MAX_STREAMS_PER_USER,
        resumeTimeoutMs: cfg.CHAT_RESUME_TIMEOUT_MS,
        consent: cfg.CHAT_CONSENT,
        maxPendingInvites: cfg.CHAT_MAX_PENDING_INVITES,
        invitesPerMinute: cfg.CHAT_INVITE_RATE_PER_MIN,
        inviteBurst: cfg.CHAT_INVITE_BURST,
        blockCacheMs: cfg.CHAT_BLOCK_CACHE_MS,
      },
    },
    {
      jwtSecret: cfg.jwtSecret,
      issuer: 'grpc-chat',
      audience: 'grpc-chat',
      tokenTtlMs: cfg.CHAT_TOKEN_TTL_MS,
      refreshTtlMs: cfg.CHAT_REFRESH_TTL_MS,
      passwordHashCost: cfg.CHAT_PASSWORD_HASH_COST,
      hashConcurrency: cfg.CHAT_PASSWORD_HASH_CONCURRENCY,
      hashQueue: cfg.CHAT_PASSWORD_HASH_QUEUE,
      accountCacheMs: cfg.CHAT_ACCOUNT_CACHE_MS,
      authPerAddressPerMinute: cfg.CHAT_AUTH_ATTEMPTS_PER_ADDRESS_PER_MIN,
      loginNameCeilingPerMinute: cfg.CHAT_LOGIN_NAME_CEILING_PER_MIN,
      serviceKeys: cfg.serviceKeys,
    },
  );
  core.start();
  const metricsHttp = await metrics.serve(cfg.CHAT_HOST, cfg.CHAT_METRICS_PORT);
  const peers = new PeerResolver(cfg.CHAT_TRUSTED_PROXIES);
  const grpc = await startGrpcServer({ core, log, metrics, peers }, cfg.CHAT_HOST, cfg.CHAT_PORT, {
    maxReceiveMessageBytes: cfg.CHAT_MAX_RECEIVE_MESSAGE_BYTES,
    maxConcurrentStreams: cfg.CHAT_MAX_CONCURRENT_STREAMS,
    keepaliveTimeMs: cfg.CHAT_KEEPALIVE_TIME_MS,
    keepaliveTimeoutMs: cfg.CHAT_KEEPALIVE_TIMEOUT_MS,
  });
  const address = cfg.CHAT_ADVERTISE_ADDRESS ?? `${cfg.CHAT_HOST}:${grpc.port}`;
  const loopback = ['0.0.0.0', '::'].includes(cfg.CHAT_HOST) ? '127.0.0.1' : cfg.CHAT_HOST;
  const web = await startGrpcWebServer({
    grpcAddress: `${loopback}:${grpc.port}`,
    host: cfg.CHAT_HOST,
    port: cfg.CHAT_WEB_PORT,
    staticDir: webDir(),
    peers,
    allowedOrigins: cfg.CHAT_WEB_ORIGINS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    headersTimeoutMs: cfg.CHAT_WEB_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: cfg.CHAT_WEB_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: cfg.CHAT_WEB_KEEPALIVE_TIMEOUT_MS,
    maxConnectionsPerPeer: cfg.CHAT_WEB_MAX_CONNECTIONS_PER_PEER,
  });
  await c.ports.registry.join({ nodeId: cfg.CHAT_NODE_ID, address, region: cfg.CHAT_REGION, capacity: cfg.CHAT_NODE_CAPACITY }, () => core.hub.count());

  let stopping: Promise<void> | undefined;
  return {
    core,
    ports: c.ports,
    nodeId: cfg.CHAT_NODE_ID,
    address,
    port: grpc.port,
    metricsPort: metricsHttp.port,
    webPort: web.port,
    webConnectionsFrom: (peer) => web.openConnections(peer),
    stop(graceMs = cfg.CHAT_SHUTDOWN_GRACE_MS) {
      return (stopping ??= (async () => {
        grpc.setServing(false);
        await c.ports.registry.leave();
        const target = await c.ports.registry.alternative(cfg.CHAT_NODE_ID);
        core.hub.redirectAll(target, 'node shutting down');
        // Keep answering while devices move and probes see NOT_SERVING, for up to half the grace.
        const started = Date.now();
        while (core.hub.count() > 0 && Date.now() - started < graceMs / 2) await new Promise((r) => setTimeout(r, 50));
        log.info({ moved: core.hub.count() === 0, ms: Date.now() - started }, 'drain: streams moved; finishing in-flight calls');
        await web.close(); // browsers got their reconnect frame; their upstream calls must not hold the shutdown
        await new Promise<void>((resolve) => {
          const timer = setTimeout(
            () => {
              grpc.server.forceShutdown();
              resolve();
            },
            Math.max(0, graceMs - (Date.now() - started)),
          );
          grpc.server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        // Sends whose stream already went away still finish: their messages are stored and their ids recorded.
        await Promise.race([core.messaging.idle(), new Promise((r) => setTimeout(r, Math.max(500, graceMs / 4)))]);
        core.stop();
        metricsHttp.server.close();
        await c.ports.fanout.close();
        await c.close();
      })());
    },
  };
}
