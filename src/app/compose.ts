import { memoryPorts } from '../adapters/memory/index.js';
import { LogPushNotifier } from '../adapters/push/LogPushNotifier.js';
import { WebhookPushNotifier } from '../adapters/push/WebhookPushNotifier.js';
import { StaticRegistry } from '../adapters/static/StaticRegistry.js';
import { connectAny, type RedisClient } from '../adapters/redis/connect.js';
import { RedisFanout } from '../adapters/redis/RedisFanout.js';
import { RedisIdempotencyStore } from '../adapters/redis/RedisIdempotencyStore.js';
import { RedisPresenceStore } from '../adapters/redis/RedisPresenceStore.js';
import { RedisRegistry } from '../adapters/redis/RedisRegistry.js';
import { RedisSequencer } from '../adapters/redis/RedisSequencer.js';
import { RedisRateLimiter } from '../adapters/redis/RedisRateLimiter.js';
import { RedisSendGate } from '../adapters/redis/RedisSendGate.js';
import { ConsulRegistry } from '../adapters/consul/ConsulRegistry.js';
import { ZooKeeperRegistry } from '../adapters/zookeeper/ZooKeeperRegistry.js';
import { CachedChannelStore, invalidateOn } from '../adapters/CachedChannelStore.js';
import type { Ports } from '../core/deps.js';
import type { Logger } from '../core/logger.js';
import type { Membership } from '../ports/Registry.js';
import type { Config } from './config.js';

/** The chosen adapters plus their lifecycle hooks. */
export interface Composition {
  ports: Ports & { registry: Membership };
  close(): Promise<void>;
}

/** Discovery: static on the embedded default, Redis, Consul or ZooKeeper in a cluster. */
function discovery(cfg: Config, log: Logger, redis?: RedisClient): Membership {
  const kind = cfg.CHAT_DISCOVERY ?? (cfg.CHAT_STORE === 'memory' ? 'static' : 'redis');
  switch (kind) {
    case 'static':
      return new StaticRegistry();
    case 'redis':
      if (!redis) throw new Error('invalid configuration:\n  CHAT_DISCOVERY: redis needs CHAT_STORE=scylla (a shared Redis)');
      return new RedisRegistry(redis, cfg.CHAT_REDIS_PREFIX);
    case 'consul':
      return new ConsulRegistry({
        host: cfg.CHAT_CONSUL_HOST,
        port: cfg.CHAT_CONSUL_PORT,
        serviceName: cfg.CHAT_CONSUL_SERVICE,
        ttlSeconds: cfg.CHAT_CONSUL_TTL_MS / 1000,
        zone: cfg.CHAT_ZONE,
      });
    case 'zookeeper':
      return new ZooKeeperRegistry({
        connect: cfg.CHAT_ZK_CONNECT,
        root: cfg.CHAT_ZK_ROOT,
        sessionTimeoutMs: cfg.CHAT_ZK_SESSION_TIMEOUT_MS,
        loadIntervalMs: cfg.CHAT_ZK_LOAD_INTERVAL_MS,
        onError: (err, what) => log.warn({ err }, `zookeeper discovery: ${what} failed; retrying`),
      });
  }
}

/**
 * The send path's Redis ports. One Redis: a send's rate token, claim and id in
 * one script (SendGate). A cluster keeps those keys in different slots, so
 * there the three are asked in turn.
 */
function sendPath(cfg: Config, redis: RedisClient, prefix: string) {
  const idempotency = new RedisIdempotencyStore(redis, prefix);
  const sendGate = cfg.CHAT_REDIS_MODE === 'single' ? new RedisSendGate(redis, prefix, idempotency) : undefined;
  return { idempotency, sendGate };
}

/** The one place that chooses adapters. */
export async function compose(cfg: Config, log: Logger): Promise<Composition> {
  const push = cfg.CHAT_PUSH === 'webhook' ? new WebhookPushNotifier(cfg.CHAT_PUSH_WEBHOOK_URL!) : new LogPushNotifier(log);
  switch (cfg.CHAT_STORE) {
    case 'memory': {
      const registry = discovery(cfg, log);
      return {
        ports: { ...memoryPorts(), push, registry },
        close: () => registry.close(),
      };
    }
    case 'scylla': {
      const { createScyllaStores } = await import('../adapters/scylla/index.js');
      const prefix = cfg.CHAT_REDIS_PREFIX;
      const [redis, sub, cql] = await Promise.all([
        connectAny(cfg.CHAT_REDIS_MODE, cfg.CHAT_REDIS_URL, `${cfg.CHAT_NODE_ID}-cmd`),
        connectAny(cfg.CHAT_REDIS_MODE, cfg.CHAT_REDIS_URL, `${cfg.CHAT_NODE_ID}-sub`, true),
        createScyllaStores({
          contactPoints: cfg.CHAT_CQL_CONTACT_POINTS.split(',').map((s) => s.trim()),
          localDataCenter: cfg.CHAT_CQL_LOCAL_DC,
          keyspace: cfg.CHAT_CQL_KEYSPACE,
          replication: cfg.CHAT_CQL_REPLICATION,
          consistency: cfg.CHAT_CQL_CONSISTENCY,
          requestTimeoutMs: cfg.CHAT_CQL_REQUEST_TIMEOUT_MS,
          cursorWriteBehindMs: cfg.CHAT_CURSOR_WRITE_BEHIND_MS,
          onCursorWriteError: (e) => log.warn({ err: e }, 'cursor write-behind flush failed; retrying'),
        }),
      ]);
      const registry = discovery(cfg, log, redis);
      const partitions = cfg.CHAT_REDIS_PUBSUB_PARTITIONS ?? (cfg.CHAT_REDIS_MODE === 'cluster' ? 64 : 0);
      const fanout = new RedisFanout(redis, sub, prefix, partitions);
      const { idempotency, sendGate } = sendPath(cfg, redis, prefix);
      const cache = cfg.CHAT_CHANNEL_CACHE_MS > 0 ? new CachedChannelStore(cql.channels, cfg.CHAT_CHANNEL_CACHE_MS) : undefined;
      const uncache = cache ? invalidateOn(cache, fanout) : () => {};
      return {
        ports: {
          accounts: cql.accounts,
          channels: cache ?? cql.channels,
          messages: cql.messages,
          cursors: cql.cursors,
          sequencer: new RedisSequencer(
            redis,
            (ch) => cql.messages.maxId(ch),
            prefix,
            cfg.CHAT_SEQ_RESEED_MARGIN,
            (ch, range) =>
              // Not recorded: readers fall back to waiting CHAT_HOLE_WINDOW_MS at the jump (slower, never wrong).
              cql.skipped.record(ch, range).catch((e) => log.error({ err: e, channelId: ch, ...range }, 'could not record skipped ids')),
          ),
          skipped: cql.skipped,
          safety: cql.safety,
          idempotency,
          sendGate,
          fanout,
          presence: new RedisPresenceStore(redis, prefix),
          rateLimiter: new RedisRateLimiter(redis, prefix),
          push,
          registry,
        },
        async close() {
          uncache();
          await registry.close();
          sub.disconnect();
          redis.disconnect();
          await cql.close();
        },
      };
    }
  }
}
