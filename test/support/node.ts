import { loadConfig } from '../../src/app/config.js';
import { startNode, type RunningNode } from '../../src/app/node.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { unhandledRejections } from '../../src/app/processGuard.js';
import { Api } from './client.js';
import { randomUUID } from 'node:crypto';
import { noteTestData } from './ledger.js';
import { REDIS_CLUSTER_URL } from './redis.js';

/**
 * CHAT_TEST_STORE=scylla runs the same end-to-end suites on the production
 * stack (Cassandra + Redis), each node in a keyspace and key prefix of its own;
 * CHAT_TEST_STORE=scylla-cluster does the same on the test Redis Cluster.
 */
export function storeEnv(): Record<string, string> {
  const store = process.env.CHAT_TEST_STORE;
  if (store !== 'scylla' && store !== 'scylla-cluster') return {};
  const run = 't' + randomUUID().slice(0, 8);
  noteTestData({ keyspace: `chat_${run}`, prefix: `${run}:`, ...(store === 'scylla-cluster' ? { cluster: true } : {}) });
  const cluster: Record<string, string> = store === 'scylla-cluster' ? { CHAT_REDIS_MODE: 'cluster', CHAT_REDIS_URL: REDIS_CLUSTER_URL } : {};
  return { CHAT_STORE: 'scylla', CHAT_CQL_KEYSPACE: `chat_${run}`, CHAT_REDIS_PREFIX: `${run}:`, CHAT_JWT_SECRET: `test-secret-${randomUUID()}`, ...cluster };
}

/** Settings every test node shares, in process or not: free ports, cheap hashing, limits out of the way. */
export const TEST_DEFAULTS: Record<string, string> = {
  CHAT_PORT: '0',
  CHAT_METRICS_PORT: '0',
  CHAT_WEB_PORT: '0',
  CHAT_PASSWORD_HASH_COST: '10',
  // Tests drive load from few users; the limits themselves are tested in limits.test.ts.
  CHAT_SEND_RATE_PER_SEC: '100000',
  CHAT_SEND_BURST: '100000',
  CHAT_LOGIN_ATTEMPTS_PER_MIN: '100000',
  CHAT_LOGIN_NAME_CEILING_PER_MIN: '100000',
  // Every test client calls from 127.0.0.1: per-address limits and the hash queue are tested in authFlood.test.ts.
  CHAT_AUTH_ATTEMPTS_PER_ADDRESS_PER_MIN: '1000000',
  CHAT_PASSWORD_HASH_CONCURRENCY: '1000',
  CHAT_PASSWORD_HASH_QUEUE: '100000',
  // Typing and marks are limited per user too (tested in ephemeral.test.ts).
  CHAT_TYPING_RATE_PER_SEC: '100000',
  CHAT_TYPING_BURST: '100000',
  CHAT_MARK_RATE_PER_SEC: '100000',
  CHAT_MARK_BURST: '100000',
  // Suites written before consent build groups of strangers; consent (the default, invite) is tested in consent.test.ts.
  CHAT_CONSENT: 'open',
};

/** Starts an in-process node on a free loopback port with test-friendly settings. */
export async function testNode(
  env: Record<string, string> = {},
  log: Logger = silentLogger,
): Promise<{ node: RunningNode; api: Api; stop: () => Promise<void> }> {
  const cfg = loadConfig({
    ...TEST_DEFAULTS,
    CHAT_HOST: '127.0.0.1',
    CHAT_LOG_LEVEL: 'silent',
    CHAT_PRESENCE_TIMEOUT_MS: '600',
    CHAT_HEARTBEAT_INTERVAL_MS: '150',
    CHAT_SHUTDOWN_GRACE_MS: '500',
    ...storeEnv(),
    ...env,
  });
  const node = await startNode(cfg, log);
  const api = new Api(node.address);
  return {
    node,
    api,
    stop: async () => {
      api.close();
      await node.stop(200);
      // Every test's node checks that nothing it did left a rejection unhandled (the process guard survives them).
      if (unhandledRejections() !== 0) throw new Error(`${unhandledRejections()} unhandled promise rejection(s) in this test process; see the error log`);
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
