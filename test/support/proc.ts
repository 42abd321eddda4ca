import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { TEST_DEFAULTS } from './node.js';
import { noteTestData } from './ledger.js';

/** A chat node in its own OS process (for SIGKILL and SIGTERM tests). */
export class NodeProcess {
  address = '';
  log = '';
  private readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(readonly env: Record<string, string>) {
    this.proc = spawn(process.execPath, [resolve('dist/src/app/main.js')], {
      // The test runner's own switches (CHAT_TEST_*) are not node settings: the node would refuse them.
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CHAT_TEST_'))), CHAT_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d) => (this.log += d));
    this.proc.stderr!.on('data', (d) => (this.log += d));
    this.exited = new Promise((r) => this.proc.once('exit', (code) => r(code)));
  }

  /** Resolves with the node's address once it listens; rejects if it exits or takes too long. */
  async ready(ms = 30_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const m = /listening on (\S+)/.exec(this.log);
      if (m) return (this.address = m[1]!);
      if (this.proc.exitCode !== null) throw new Error(`node exited (${this.proc.exitCode}):\n${this.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`node did not start in ${ms} ms:\n${this.log}`);
  }

  /** The OS process id (for /proc readings). */
  get pid(): number {
    return this.proc.pid!;
  }

  /** The process's exit code, or null while it runs. */
  get exitCode(): number | null {
    return this.proc.exitCode ?? (this.proc.signalCode ? -1 : null);
  }

  kill(signal: NodeJS.Signals) {
    if (this.proc.exitCode === null) this.proc.kill(signal);
  }
}

/** Environment for nodes that form one cluster over the shared Redis and Cassandra, isolated per test run. */
export function clusterEnv(run: string, extra: Record<string, string> = {}): Record<string, string> {
  noteTestData({ keyspace: `chat_${run}`, prefix: `${run}:` });
  return {
    ...TEST_DEFAULTS,
    CHAT_STORE: 'scylla',
    CHAT_REDIS_PREFIX: `${run}:`,
    CHAT_CQL_KEYSPACE: `chat_${run}`,
    CHAT_JWT_SECRET: 'cluster-test-secret-0123456789abcdef',
    CHAT_GAP_WAIT_MS: '300',
    CHAT_HOLE_WINDOW_MS: '3000',
    CHAT_PRESENCE_TIMEOUT_MS: '2000',
    CHAT_HEARTBEAT_INTERVAL_MS: '500',
    CHAT_SHUTDOWN_GRACE_MS: '2000',
    ...extra,
  };
}
