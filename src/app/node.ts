import { pino } from 'pino';
import { ChatCore } from '../core/ChatCore.js';
import type { Logger } from '../core/logger.js';
import { startGrpcServer } from '../transport/server.js';
import { composePorts } from './compose.js';
import type { Config } from './config.js';

export interface RunningNode {
  core: ChatCore;
  address: string;
  port: number;
  /** Drains (health NOT_SERVING, redirect clients, wait) and stops. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts one chat node: adapters, use cases, gRPC server. */
export async function startNode(cfg: Config, log: Logger = pino({ level: cfg.CHAT_LOG_LEVEL }) as unknown as Logger): Promise<RunningNode> {
  const provisional = cfg.CHAT_ADVERTISE_ADDRESS ?? `${cfg.CHAT_HOST}:${cfg.CHAT_PORT}`;
  let advertise = provisional;
  const ports = composePorts(cfg, log, provisional);
  const core = new ChatCore(
    {
      ...ports,
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
        outboundQueueLimit: cfg.CHAT_OUTBOUND_QUEUE_LIMIT,
      },
    },
    { jwtSecret: cfg.jwtSecret, issuer: 'grpc-chat', audience: 'grpc-chat', tokenTtlMs: cfg.CHAT_TOKEN_TTL_MS, passwordHashCost: cfg.CHAT_PASSWORD_HASH_COST, serviceKeys: cfg.serviceKeys },
  );
  core.start();
  const grpc = await startGrpcServer({ core, log }, cfg.CHAT_HOST, cfg.CHAT_PORT, {
    maxReceiveMessageBytes: cfg.CHAT_MAX_RECEIVE_MESSAGE_BYTES,
    maxConcurrentStreams: cfg.CHAT_MAX_CONCURRENT_STREAMS,
    keepaliveTimeMs: cfg.CHAT_KEEPALIVE_TIME_MS,
    keepaliveTimeoutMs: cfg.CHAT_KEEPALIVE_TIMEOUT_MS,
  });
  if (!cfg.CHAT_ADVERTISE_ADDRESS) advertise = `${cfg.CHAT_HOST}:${grpc.port}`;
  if (advertise !== provisional) {
    // Port 0 was asked for: tell discovery the real one.
    (ports.registry as unknown as { nodes: Array<{ address: string }> }).nodes[0]!.address = advertise;
  }

  let stopping: Promise<void> | undefined;
  return {
    core,
    address: advertise,
    port: grpc.port,
    stop(graceMs = cfg.CHAT_SHUTDOWN_GRACE_MS) {
      return (stopping ??= (async () => {
        grpc.setServing(false);
        const target = await ports.registry.alternative(cfg.CHAT_NODE_ID);
        core.hub.redirectAll(target, 'node shutting down');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            grpc.server.forceShutdown();
            resolve();
          }, graceMs);
          grpc.server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        core.stop();
        await ports.fanout.close();
        await ports.registry.close();
      })());
    },
  };
}
