import { randomBytes } from 'node:crypto';
import { z } from 'zod';

const int = (dflt: number, min = 0) => z.coerce.number().int().min(min).default(dflt);

/**
 * The one configuration schema. Every setting is a CHAT_* environment
 * variable read once at start-up; a bad value stops the node with a message
 * that names the variable.
 */
export const ConfigSchema = z.object({
  CHAT_NODE_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default('node-1'),
  CHAT_REGION: z.string().default('local'),
  CHAT_HOST: z.string().default('127.0.0.1'),
  CHAT_PORT: int(50051),
  /** The address clients are told to use for this node (defaults to host:port). */
  CHAT_ADVERTISE_ADDRESS: z.string().optional(),
  CHAT_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),

  CHAT_STORE: z.enum(['memory']).default('memory'),
  CHAT_PUSH: z.enum(['log', 'webhook']).default('log'),
  CHAT_PUSH_WEBHOOK_URL: z.url().optional(),

  /** HS256 secret for access tokens, at least 32 characters. Random per process if unset. */
  CHAT_JWT_SECRET: z.string().min(32).optional(),
  CHAT_TOKEN_TTL_MS: int(24 * 3600 * 1000, 1000),
  /** log2 of scrypt's N for new password hashes (tests lower it to save time). */
  CHAT_PASSWORD_HASH_COST: z.coerce.number().int().min(10).max(20).default(15),
  /** Backend services: "name=secret,name2=secret2"; they call with "Bearer svc:name:secret". */
  CHAT_SERVICE_KEYS: z
    .string()
    .regex(/^([A-Za-z0-9_.-]+=[^,=]{16,})(,[A-Za-z0-9_.-]+=[^,=]{16,})*$/, 'expected name=secret pairs, secrets of 16+ characters')
    .optional(),

  CHAT_MAX_BODY_BYTES: int(8192, 1),
  CHAT_MAX_GROUP_MEMBERS: int(100, 2),
  CHAT_MAX_RECEIVE_MESSAGE_BYTES: int(64 * 1024, 1024),
  CHAT_OUTBOUND_QUEUE_LIMIT: int(1024, 8),
  CHAT_PRESENCE_TIMEOUT_MS: int(30_000, 10),
  CHAT_HEARTBEAT_INTERVAL_MS: int(5_000, 5),
  CHAT_IDEMPOTENCY_TTL_MS: int(24 * 3600 * 1000, 1000),
  CHAT_GAP_WAIT_MS: int(2_000, 1),

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
  if (c.CHAT_HEARTBEAT_INTERVAL_MS >= c.CHAT_PRESENCE_TIMEOUT_MS) {
    throw new Error('invalid configuration:\n  CHAT_HEARTBEAT_INTERVAL_MS: must be shorter than CHAT_PRESENCE_TIMEOUT_MS');
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
