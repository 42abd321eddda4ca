import { pino } from 'pino';
import { ChatCore } from '../core/ChatCore.js';
import type { Logger } from '../core/logger.js';
import type { Ports } from '../core/deps.js';
import { startGrpcServer } from '../transport/server.js';
import { Metrics } from '../transport/metrics.js';
import { startGrpcWebServer } from '../transport/grpcWeb.js';
import { fileURLToPath } from 'node:url';
import { PeerResolver } from '../transport/peer.js';

/** <repo>/web, from dist/src/app or src/app. */
const webDir = () => fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../web/' : '../../web/', import.meta.url));
import { type Composition, compose } from './compose.js';
import { installProcessGuard, unhandledRejections } from './processGuard.js';
import { authSettings, type Config, coreSettings } from './config.js';

export interface RunningNode {
  core: ChatCore;
  /** The adapters the node runs on (operations and tests look through them; the transport never does). */
  ports: Ports;
  nodeId: string;
  address: string;
  port: number;
  /** Where Prometheus scrapes: http://host:metricsPort/metrics */
  metricsPort: number;
  /** The node's metrics (tests read their running totals, `metrics.counts`). */
  metrics: Metrics;
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
  const metrics = nodeMetrics();
  c.ports.fanout.observeMessages?.((n) => metrics.fanout.observe(n));
  const core = new ChatCore({ ...c.ports, log, now: Date.now, settings: coreSettings(cfg), counts: metrics.counts }, authSettings(cfg));
  core.start();
  const metricsHttp = await metrics.serve(cfg.CHAT_HOST, cfg.CHAT_METRICS_PORT);
  const { grpc, web, address } = await serve(cfg, core, log, metrics);
  await c.ports.registry.join({ nodeId: cfg.CHAT_NODE_ID, address, region: cfg.CHAT_REGION, capacity: cfg.CHAT_NODE_CAPACITY }, () => core.hub.count());

  let stopping: Promise<void> | undefined;
  return {
    core,
    ports: c.ports,
    nodeId: cfg.CHAT_NODE_ID,
    address,
    port: grpc.port,
    metricsPort: metricsHttp.port,
    metrics,
    webPort: web.port,
    webConnectionsFrom: (peer) => web.openConnections(peer),
    stop(graceMs = cfg.CHAT_SHUTDOWN_GRACE_MS) {
      return (stopping ??= (async () => {
        await drain(cfg, core, c.ports, { grpc, web, log }, graceMs);
        core.stop();
        metricsHttp.server.close();
        await c.ports.fanout.close();
        await c.close();
      })());
    },
  };
}

/** The node's metrics, following the process-wide counters. */
function nodeMetrics(): Metrics {
  const metrics = new Metrics();
  metrics.followTotal(metrics.unhandledRejections, unhandledRejections);
  return metrics;
}

type GrpcServer = Awaited<ReturnType<typeof startGrpcServer>>;
type WebServer = Awaited<ReturnType<typeof startGrpcWebServer>>;

/** Opens the gRPC server and, in front of it, the grpc-web endpoint. */
async function serve(cfg: Config, core: ChatCore, log: Logger, metrics: Metrics): Promise<{ grpc: GrpcServer; web: WebServer; address: string }> {
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
  return { grpc, web, address };
}

/** NOT_SERVING, leave discovery, redirect clients, then finish in-flight calls and sends within the grace. */
async function drain(
  cfg: Config,
  core: ChatCore,
  ports: Composition['ports'],
  s: { grpc: GrpcServer; web: WebServer; log: Logger },
  graceMs: number,
): Promise<void> {
  s.grpc.setServing(false);
  await ports.registry.leave();
  const target = await ports.registry.alternative(cfg.CHAT_NODE_ID);
  core.hub.redirectAll(target, 'node shutting down');
  // Keep answering while devices move, for up to half the grace, and in any case long enough (a quarter of the
  // grace, at most 1 s) for health probes and load balancers to see NOT_SERVING before the listener closes:
  // clients that follow their reconnect frame at once can empty the node within milliseconds.
  const started = Date.now();
  const probeWindow = Math.min(1000, graceMs / 4);
  const busy = () => core.hub.count() > 0 || Date.now() - started < probeWindow;
  while (busy() && Date.now() - started < graceMs / 2) await new Promise((r) => setTimeout(r, 50));
  s.log.info({ moved: core.hub.count() === 0, ms: Date.now() - started }, 'drain: streams moved; finishing in-flight calls');
  await s.web.close(); // browsers got their reconnect frame; their upstream calls must not hold the shutdown
  await new Promise<void>((resolve) => {
    const timer = setTimeout(
      () => {
        s.grpc.server.forceShutdown();
        resolve();
      },
      Math.max(0, graceMs - (Date.now() - started)),
    );
    s.grpc.server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  // Sends whose stream already went away still finish: their messages are stored and their ids recorded.
  await Promise.race([core.messaging.idle(), new Promise((r) => setTimeout(r, Math.max(500, graceMs / 4)))]);
}
