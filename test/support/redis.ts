import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.CHAT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix unique to this test run, so tests share the machine's Redis without clashing. */
export const testPrefix = () => `t${randomUUID().slice(0, 8)}:`;

/** Fails loudly (never skips) when the shared Redis is not there: `make test` starts it. */
export async function sharedRedis(): Promise<Redis> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await r.connect();
  } catch (e) {
    throw new Error(`Redis is not reachable at ${REDIS_URL} (run \`make infra\`): ${(e as Error).message}`);
  }
  return r;
}

/**
 * A private redis-server on another loopback port, for tests that flush or
 * restart Redis. No automatic persistence: a restart loses everything, like a
 * failover to an empty replica, unless the test saved a snapshot itself
 * (`SAVE`): with `dir`, the snapshot is `dir/dump.rdb` and the next start
 * loads it, like a restart from an older RDB. `args` are passed on as is.
 */
export class PrivateRedis {
  private proc?: ChildProcess;
  constructor(
    readonly port: number,
    private readonly options: { dir?: string; args?: string[] } = {},
  ) {}

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start() {
    const { dir, args = [] } = this.options;
    const files = dir ? ['--dir', dir, '--dbfilename', 'dump.rdb'] : [];
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...files, ...args], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      r.on('error', () => {});
      try {
        await r.connect();
        await r.ping();
        r.disconnect();
        return;
      } catch {
        r.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  }

  /** Kills the server (SIGKILL: nothing saved), or waits for it to finish exiting (after SHUTDOWN). */
  async stop() {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }
}

/** Seeds of the test Redis Cluster (`test/infra/redis-cluster.sh`, 127.0.0.1:7101-7106). */
export const REDIS_CLUSTER_URL = process.env.CHAT_TEST_REDIS_CLUSTER_URL ?? 'redis://127.0.0.1:7101,redis://127.0.0.1:7102,redis://127.0.0.1:7103';
