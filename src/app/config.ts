import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { PeerResolver } from '../transport/peer.js';
import type { ChatCore } from '../core/ChatCore.js';
import type { CoreSettings } from '../core/deps.js';

type ChatCoreAuthSettings = ConstructorParameters<typeof ChatCore>[1];

const int = (dflt: number, min = 0) => z.coerce.number().int().min(min).default(dflt);

/**
 * The one configuration schema. Every setting is a CHAT_* environment
 * variable read once at start-up; a bad value stops the node with a message
 * that names the variable.
 */
export const ConfigSchema = z.object({
  CHAT_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default('node-1'),
  CHAT_REGION: z.string().default('local'),
  CHAT_HOST: z.string().default('127.0.0.1'),
  CHAT_PORT: int(50051),
  /** The address clients are told to use for this node (defaults to host:port). */
  CHAT_ADVERTISE_ADDRESS: z.string().optional(),
  /** grpc-web (browsers, no Envoy needed) and the web client, over HTTP/1.1 (0 = any free port). */
  CHAT_WEB_PORT: int(8080),
  /** Origins allowed to call grpc-web cross-origin, comma-separated ("*" = any). */
  CHAT_WEB_ORIGINS: z.string().default('*'),
  /** grpc-web: a client must send its request headers within this time (at most 10 s). */
  CHAT_WEB_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(10_000).default(10_000),
  /** grpc-web: ... and its whole request, body included (at most 30 s; server-stream responses are not limited). */
  CHAT_WEB_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(30_000),
  /** grpc-web: an idle keep-alive connection is closed after this time. */
  CHAT_WEB_KEEPALIVE_TIMEOUT_MS: int(5_000, 100),
  /** grpc-web: open connections per client address; more are closed at once. */
  CHAT_WEB_MAX_CONNECTIONS_PER_PEER: int(256, 1),
  /** Prometheus /metrics on its own HTTP port (0 = any free port). */
  CHAT_METRICS_PORT: int(9464),
  CHAT_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),

  /** memory: everything in process (one node). scylla: CQL history + Redis for ids, fan-out, presence. */
  CHAT_STORE: z.enum(['memory', 'scylla']).default('memory'),
  /** single: one Redis (or a primary behind a failover proxy). cluster: a Redis Cluster (7.0+). */
  CHAT_REDIS_MODE: z.enum(['single', 'cluster']).default('single'),
  /** redis://host:port; with CHAT_REDIS_MODE=cluster, comma-separated seed nodes (any few of the cluster). */
  CHAT_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/[^,\s]+(,\s*rediss?:\/\/[^,\s]+)*$/, 'expected redis://host:port (comma-separated in cluster mode)')
    .default('redis://127.0.0.1:6379'),
  /**
   * Fan-out over sharded pub/sub: topics are hashed onto this many sharded
   * channels (SSUBSCRIBE), so a node holds at most this many subscriptions.
   * Default: 64 in cluster mode; 0 in single mode (classic pub/sub, one channel per topic).
   */
  CHAT_REDIS_PUBSUB_PARTITIONS: z.coerce.number().int().min(0).max(16384).optional(),
  /** Prefix of every Redis key and channel (several clusters can share one Redis). */
  CHAT_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,32}$/)
    .default('chat:'),
  /** Comma-separated host[:port] list. */
  CHAT_CQL_CONTACT_POINTS: z.string().min(1).default('127.0.0.1:9042'),
  CHAT_CQL_LOCAL_DC: z.string().min(1).default('datacenter1'),
  CHAT_CQL_KEYSPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,47}$/, 'lower-case letters, digits and _')
    .default('chat'),
  CHAT_CQL_REPLICATION: z.string().default("{'class':'SimpleStrategy','replication_factor':1}"),
  CHAT_CQL_CONSISTENCY: z.enum(['ONE', 'LOCAL_ONE', 'LOCAL_QUORUM', 'QUORUM', 'ALL']).default('LOCAL_QUORUM'),
  CHAT_CQL_REQUEST_TIMEOUT_MS: int(5000, 100),
  /** Read pointers and delivery cursors are written behind, coalesced per cell, at most this late (ms); 0 writes each one through. */
  CHAT_CURSOR_WRITE_BEHIND_MS: int(20, 0),
  /** After Redis lost a channel's counter, ids restart this far above durable history. */
  CHAT_SEQ_RESEED_MARGIN: int(1000, 1),
  /**
   * How long a node keeps a channel (its members) read from Cassandra before
   * reading it again (0 = no cache). Bounds how long a member removed through
   * another node can still post through this one.
   */
  CHAT_CHANNEL_CACHE_MS: int(2000, 0),
  /** Where nodes find each other: static (this node only), redis, consul or zookeeper. Default: static on memory, redis on scylla. */
  CHAT_DISCOVERY: z.enum(['static', 'redis', 'consul', 'zookeeper']).optional(),
  /** The ZooKeeper ensemble, host:port comma-separated. */
  CHAT_ZK_CONNECT: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*(\/[^\s]*)?$/, 'expected host:port,host:port')
    .default('127.0.0.1:2181'),
  /** Parent znode of this cluster (several clusters can share one ensemble). */
  CHAT_ZK_ROOT: z
    .string()
    .regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'expected an absolute znode path such as /chat')
    .default('/chat'),
  /** ZooKeeper session timeout: a node that stops answering leaves discovery after this (the ensemble clamps it to its own bounds). */
  CHAT_ZK_SESSION_TIMEOUT_MS: int(10_000, 500),
  /** Least time between two writes of this node's load to ZooKeeper. */
  CHAT_ZK_LOAD_INTERVAL_MS: int(1000, 50),
  CHAT_CONSUL_HOST: z.string().default('127.0.0.1'),
  CHAT_CONSUL_PORT: int(8500, 1),
  CHAT_CONSUL_SERVICE: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/)
    .default('chat'),
  /** TTL of the node's health check in Consul; the node passes it every third of that. */
  CHAT_CONSUL_TTL_MS: int(10_000, 300),
  CHAT_ZONE: z.string().default(''),
  /** Streams this node is sized for (discovery's load ratio). */
  CHAT_NODE_CAPACITY: int(10_000, 1),
  CHAT_PUSH: z.enum(['log', 'webhook']).default('log'),
  CHAT_PUSH_WEBHOOK_URL: z.url().optional(),

  /** HS256 secret for access tokens, at least 32 characters. Required with CHAT_STORE=scylla; random per process if unset on memory. */
  CHAT_JWT_SECRET: z.string().min(32).optional(),
  /** Access token lifetime; clients renew it with RefreshSession. */
  CHAT_TOKEN_TTL_MS: int(15 * 60 * 1000, 1000),
  /** Refresh token lifetime, renewed by each RefreshSession (a device unused this long must log in again). */
  CHAT_REFRESH_TTL_MS: int(30 * 24 * 3600 * 1000, 1000),
  /** log2 of scrypt's N for new password hashes (tests lower it to save time). */
  CHAT_PASSWORD_HASH_COST: z.coerce.number().int().min(10).max(20).default(15),
  /** Password hashes computed at once; more wait in a queue of CHAT_PASSWORD_HASH_QUEUE, then RESOURCE_EXHAUSTED. */
  CHAT_PASSWORD_HASH_CONCURRENCY: int(2, 1),
  CHAT_PASSWORD_HASH_QUEUE: int(16, 0),
  /** How long a node trusts that a token's user still has an account before reading it again. */
  CHAT_ACCOUNT_CACHE_MS: int(60_000, 0),
  /** Proxies (IPs and CIDRs, comma-separated) whose x-forwarded-for names the client's address. Empty: trust none. */
  CHAT_TRUSTED_PROXIES: z.string().default(''),
  /** Backend services: "name=secret,name2=secret2"; they call with "Bearer svc:name:secret". */
  CHAT_SERVICE_KEYS: z
    .string()
    .regex(/^([A-Za-z0-9_.-]+=[^,=]{16,})(,[A-Za-z0-9_.-]+=[^,=]{16,})*$/, 'expected name=secret pairs, secrets of 16+ characters')
    .optional(),

  CHAT_MAX_BODY_BYTES: int(8192, 1),
  CHAT_MAX_GROUP_MEMBERS: int(100, 2),
  CHAT_MAX_RECEIVE_MESSAGE_BYTES: int(64 * 1024, 1024),
  /** Sends per user per second, cluster-wide, and the burst above it. */
  CHAT_SEND_RATE_PER_SEC: int(50, 1),
  CHAT_SEND_BURST: int(100, 1),
  /** Typing updates per user per second, cluster-wide, and the burst above it; past it SetTyping is RESOURCE_EXHAUSTED and typing frames are dropped. */
  CHAT_TYPING_RATE_PER_SEC: int(5, 1),
  CHAT_TYPING_BURST: int(10, 1),
  /** Read marks, and delivery acks, per user per second each, cluster-wide, and the burst; past it only the latest mark is applied, later. */
  CHAT_MARK_RATE_PER_SEC: int(10, 1),
  CHAT_MARK_BURST: int(20, 1),
  /** Login attempts per (user name, client address) per minute, cluster-wide. */
  CHAT_LOGIN_ATTEMPTS_PER_MIN: int(10, 1),
  /** Login attempts per user name per minute from all addresses before each address is held to 2 a minute for it. */
  CHAT_LOGIN_NAME_CEILING_PER_MIN: int(100, 1),
  /** Register + Login calls per client address per minute, cluster-wide (burst: a third of it). */
  CHAT_AUTH_ATTEMPTS_PER_ADDRESS_PER_MIN: int(30, 1),
  CHAT_MAX_CHANNELS_PER_USER: int(1000, 1),
  /** invite: adding (or opening a direct channel with) a user who shares no accepted channel is an invitation. open: added at once, as before consent. */
  CHAT_CONSENT: z.enum(['invite', 'open']).default('invite'),
  /** Pending invitations per invitee (they never count against CHAT_MAX_CHANNELS_PER_USER); a new one past it expires the oldest. */
  CHAT_MAX_PENDING_INVITES: int(100, 1),
  /** Invitations one user may send per minute, cluster-wide, and the burst above it; past it RESOURCE_EXHAUSTED. */
  CHAT_INVITE_RATE_PER_MIN: int(30, 1),
  CHAT_INVITE_BURST: int(20, 1),
  /** How long a node keeps a user's block lists (changes reach every node at once over the fan-out; this bounds a lost one). */
  CHAT_BLOCK_CACHE_MS: int(60_000, 0),
  /** Open server streams per user on one node: Connect (before and after resume), Subscribe and WatchPresence together. */
  CHAT_MAX_STREAMS_PER_USER: int(16, 1),
  /** A Connect that has not sent its first frame (resume) within this is ended with DEADLINE_EXCEEDED. */
  CHAT_RESUME_TIMEOUT_MS: int(10_000, 10),
  CHAT_OUTBOUND_QUEUE_LIMIT: int(1024, 8),
  CHAT_PRESENCE_TIMEOUT_MS: int(30_000, 10),
  CHAT_HEARTBEAT_INTERVAL_MS: int(5_000, 5),
  CHAT_IDEMPOTENCY_TTL_MS: int(24 * 3600 * 1000, 1000),
  CHAT_GAP_WAIT_MS: int(500, 1),
  /** A missing id is skipped once the message after it is this old (must exceed the slowest send). */
  CHAT_HOLE_WINDOW_MS: int(15_000, 1),
  /** How long after sending a message its sender may edit it (default 48 h). */
  CHAT_EDIT_WINDOW_MS: int(172_800_000, 1),

  CHAT_MAX_CONCURRENT_STREAMS: int(1000, 1),
  CHAT_KEEPALIVE_TIME_MS: int(30_000, 1000),
  CHAT_KEEPALIVE_TIMEOUT_MS: int(10_000, 1000),
  CHAT_SHUTDOWN_GRACE_MS: int(10_000, 0),
});

export type Config = z.infer<typeof ConfigSchema> & { jwtSecret: Uint8Array; serviceKeys: Map<string, string> };

/** Reads and checks the environment; throws an Error naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('CHAT_') && v !== ''));
  const unknown = Object.keys(picked).filter((k) => !(k in ConfigSchema.shape));
  if (unknown.length) throw new Error(`unknown configuration variable(s): ${unknown.join(', ')}`);
  const r = ConfigSchema.safeParse(picked);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${String(i.path[0])}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = r.data;
  if (c.CHAT_PUSH === 'webhook' && !c.CHAT_PUSH_WEBHOOK_URL) {
    throw new Error('invalid configuration:\n  CHAT_PUSH_WEBHOOK_URL: required when CHAT_PUSH=webhook');
  }
  if (c.CHAT_WEB_HEADERS_TIMEOUT_MS > c.CHAT_WEB_REQUEST_TIMEOUT_MS) {
    throw new Error('invalid configuration:\n  CHAT_WEB_HEADERS_TIMEOUT_MS: must not exceed CHAT_WEB_REQUEST_TIMEOUT_MS');
  }
  if (c.CHAT_HEARTBEAT_INTERVAL_MS >= c.CHAT_PRESENCE_TIMEOUT_MS) {
    throw new Error('invalid configuration:\n  CHAT_HEARTBEAT_INTERVAL_MS: must be shorter than CHAT_PRESENCE_TIMEOUT_MS');
  }
  if (c.CHAT_REDIS_MODE === 'single' && c.CHAT_REDIS_URL.includes(',')) {
    throw new Error('invalid configuration:\n  CHAT_REDIS_URL: one URL in single mode (a list of seeds needs CHAT_REDIS_MODE=cluster)');
  }
  if (c.CHAT_REDIS_MODE === 'cluster' && c.CHAT_REDIS_PUBSUB_PARTITIONS === 0) {
    throw new Error('invalid configuration:\n  CHAT_REDIS_PUBSUB_PARTITIONS: at least 1 in cluster mode (classic pub/sub is broadcast to every shard)');
  }
  if (c.CHAT_STORE === 'scylla' && !c.CHAT_JWT_SECRET) {
    throw new Error(
      "invalid configuration:\n  CHAT_JWT_SECRET: required when CHAT_STORE=scylla (a random key per process would make every node refuse the others' tokens and log everyone out on restart)",
    );
  }
  try {
    new PeerResolver(c.CHAT_TRUSTED_PROXIES);
  } catch (e) {
    throw new Error(`invalid configuration:\n  CHAT_TRUSTED_PROXIES: ${(e as Error).message}`);
  }
  const serviceKeys = new Map(
    (c.CHAT_SERVICE_KEYS ?? '')
      .split(',')
      .filter(Boolean)
      .map((kv) => kv.split('=') as [string, string]),
  );
  const jwtSecret = c.CHAT_JWT_SECRET ? new TextEncoder().encode(c.CHAT_JWT_SECRET) : randomBytes(32);
  return { ...c, jwtSecret, serviceKeys };
}

/**
 * The CHAT_* variables the use cases read. Each one is the CoreSettings field
 * of the same name in camelCase (CHAT_MAX_BODY_BYTES is maxBodyBytes): the
 * core's settings are derived from the schema, not copied field by field,
 * and the compiler checks that the two sides name and type the same fields.
 */
const CORE_VARIABLES = [
  'CHAT_NODE_ID',
  'CHAT_MAX_BODY_BYTES',
  'CHAT_MAX_GROUP_MEMBERS',
  'CHAT_PRESENCE_TIMEOUT_MS',
  'CHAT_HEARTBEAT_INTERVAL_MS',
  'CHAT_IDEMPOTENCY_TTL_MS',
  'CHAT_GAP_WAIT_MS',
  'CHAT_HOLE_WINDOW_MS',
  'CHAT_EDIT_WINDOW_MS',
  'CHAT_OUTBOUND_QUEUE_LIMIT',
  'CHAT_SEND_RATE_PER_SEC',
  'CHAT_SEND_BURST',
  'CHAT_TYPING_RATE_PER_SEC',
  'CHAT_TYPING_BURST',
  'CHAT_MARK_RATE_PER_SEC',
  'CHAT_MARK_BURST',
  'CHAT_LOGIN_ATTEMPTS_PER_MIN',
  'CHAT_MAX_CHANNELS_PER_USER',
  'CHAT_MAX_STREAMS_PER_USER',
  'CHAT_RESUME_TIMEOUT_MS',
  'CHAT_CONSENT',
  'CHAT_MAX_PENDING_INVITES',
  'CHAT_INVITE_RATE_PER_MIN',
  'CHAT_INVITE_BURST',
  'CHAT_BLOCK_CACHE_MS',
] as const;

type CamelWords<S extends string> = S extends `${infer W}_${infer Rest}` ? `${Capitalize<Lowercase<W>>}${CamelWords<Rest>}` : Capitalize<Lowercase<S>>;
/** CHAT_MAX_BODY_BYTES -> maxBodyBytes */
type SettingName<V extends string> = V extends `CHAT_${infer Rest}` ? Uncapitalize<CamelWords<Rest>> : never;
type Derived = { [V in (typeof CORE_VARIABLES)[number] as SettingName<V>]: Config[V] };

const settingName = (v: string) =>
  v
    .slice('CHAT_'.length)
    .toLowerCase()
    .replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The use cases' tunables, read from the configuration (the core does not know the CHAT_* names). */
export function coreSettings(cfg: Config): CoreSettings {
  const derived = Object.fromEntries(CORE_VARIABLES.map((v) => [settingName(v), cfg[v]])) as Derived;
  // Both ways: every CoreSettings field comes from a variable, and every listed variable is a CoreSettings field.
  const exact: Required<CoreSettings> extends Derived ? (Derived extends Required<CoreSettings> ? CoreSettings : never) : never = derived;
  return exact;
}

/** Sign-in and token settings, read from the configuration. */
export function authSettings(cfg: Config): ChatCoreAuthSettings {
  return {
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
  };
}
