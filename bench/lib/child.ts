import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MemProbe } from '../load/density.js';
import type { Spec } from '../load/loadgen.js';

/**
 * Child processes of the harness: the servers (each pinned to core 0 when
 * taskset exists) and the load generator (core 1). Servers get the memory
 * probe preloaded (bench/servers/probe.ts) and --expose-gc; the project's own
 * code is started unchanged (dist/src/app/main.js).
 */

const ROOT = resolve(import.meta.dirname, '../../..');
const DIST = resolve(ROOT, 'dist');
export const hasTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

function command(core: number | undefined, args: string[]): [string, string[]] {
  return hasTaskset && core !== undefined ? ['taskset', ['-c', String(core), process.execPath, ...args]] : [process.execPath, args];
}

/** The environment without the caller's CHAT_* settings (a bench run must not inherit someone's tuning). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CHAT_') && !k.startsWith('BENCH_')) env[k] = v;
  return { ...env, ...extra };
}

export type ServerKind = 'project-memory' | 'project-production' | 'relay' | 'relay-ack' | 'relay-durable' | 'sio' | 'sio-redis';

export interface ServerOptions {
  runId: string;
  /** Extra node flags (profiling). */
  nodeArgs?: string[];
  /** Pin to core 0 (throughput runs); false lets it use both cores (density: set-up goes faster, RSS is the same). */
  pin?: boolean;
  /** Read the project node's count of ServerFrame encodes (its chat_frames_encoded_total metric). */
  countEncodes?: boolean;
  /** The production stack's keyspace and Redis prefix (one per run); the durable relay's keyspace. */
  keyspace: string;
  durableKeyspace: string;
  cqlContactPoint: string;
  redisPrefix: string;
  redisUrl: string;
}

export interface ServerCounts {
  encodes: number;
  cql: number;
  /** The event loop's delay since the previous counts() (p99 and max, ms). */
  loopP99Ms: number;
  loopMaxMs: number;
}

export interface ServerHandle {
  kind: ServerKind;
  pid: number;
  address: string;
  mem(): Promise<MemProbe>;
  /** ServerFrame.encode calls (0 unless started with countEncodes) and CQL driver requests (0 unless the server uses Cassandra) so far. */
  counts(): Promise<ServerCounts>;
  stop(): Promise<void>;
  output(): string;
}

/** Settings of the project's config schema, so the harness sets only variables this tree knows (unknown ones stop a node). */
let known: Set<string> | undefined;
async function knownSettings(): Promise<Set<string>> {
  if (!known) {
    const { ConfigSchema } = (await import(pathToFileURL(resolve(DIST, 'src/app/config.js')).href)) as { ConfigSchema: { shape: object } };
    known = new Set(Object.keys(ConfigSchema.shape));
  }
  return known;
}

/**
 * The per-user send rate limit is lifted (not disabled: the limiter still runs):
 * a few hundred simulated users carry the load of many thousands, and the
 * benchmark measures delivery, not the limiter's verdicts.
 */
/** The load generator registers and logs in every simulated user from one address. */
const LIFTED_LIMITS = {
  CHAT_SEND_RATE_PER_SEC: '1000000',
  CHAT_SEND_BURST: '1000000',
  CHAT_LOGIN_ATTEMPTS_PER_MIN: '1000000',
  CHAT_AUTH_ATTEMPTS_PER_ADDRESS_PER_MIN: '1000000',
  CHAT_PASSWORD_HASH_CONCURRENCY: '1000',
  CHAT_PASSWORD_HASH_QUEUE: '100000',
  // The workloads measure delivery among members: a stranger added to a group or a direct channel joins at once, not as an invitee.
  CHAT_CONSENT: 'open',
};

export function projectEnv(kind: ServerKind, o: ServerOptions): Record<string, string> {
  const env: Record<string, string> = {
    ...LIFTED_LIMITS,
    CHAT_HOST: '127.0.0.1',
    CHAT_PORT: '0',
    CHAT_METRICS_PORT: '0',
    CHAT_WEB_PORT: '0',
    CHAT_LOG_LEVEL: 'warn',
    CHAT_NODE_ID: `bench-${o.runId}`,
    CHAT_PASSWORD_HASH_COST: '10',
    CHAT_SHUTDOWN_GRACE_MS: '1000',
  };
  if (kind === 'project-production') {
    Object.assign(env, {
      CHAT_STORE: 'scylla',
      CHAT_JWT_SECRET: `bench-secret-${o.runId}-0123456789abcdef0123`,
      CHAT_CQL_KEYSPACE: o.keyspace,
      CHAT_REDIS_PREFIX: o.redisPrefix,
      CHAT_REDIS_URL: o.redisUrl,
    });
  }
  return env;
}

function baselineEnv(kind: ServerKind, o: ServerOptions): Record<string, string> {
  switch (kind) {
    case 'sio-redis':
      return { BENCH_SIO_REDIS: o.redisUrl, BENCH_SIO_KEY: `${o.redisPrefix}sio` };
    case 'relay-ack':
      return { BENCH_RELAY_ACK: '1' };
    case 'relay-durable':
      return {
        BENCH_RELAY_DURABLE: '1',
        BENCH_REDIS_URL: o.redisUrl,
        BENCH_CQL_CONTACT_POINT: o.cqlContactPoint,
        BENCH_DURABLE_KEYSPACE: o.durableKeyspace,
        BENCH_DURABLE_PREFIX: `${o.redisPrefix}durable:`,
      };
    default:
      return {};
  }
}

/** The environment of one server: its settings (only those the built node knows) and the probe's counters. */
async function serverEnv(kind: ServerKind, o: ServerOptions): Promise<Record<string, string>> {
  const env: Record<string, string> = kind.startsWith('project') ? projectEnv(kind, o) : baselineEnv(kind, o);
  if (kind.startsWith('project')) {
    const k = await knownSettings();
    for (const name of Object.keys(env)) if (name.startsWith('CHAT_') && !k.has(name)) delete env[name];
  }
  // The CQL driver's requests are counted (probe preload) where a server uses Cassandra.
  if (kind === 'project-production' || kind === 'relay-durable') env.BENCH_COUNT_CQL = '1';
  return env;
}

/** Asks the server's probe preload (over IPC) and waits for its answer. */
function prober(proc: ChildProcess, kind: ServerKind) {
  let probeId = 0;
  const waiting = new Map<number, (m: MemProbe & ServerCounts) => void>();
  proc.on('message', (m: { probeReply?: number } & MemProbe & ServerCounts) => {
    if (m.probeReply === undefined) return;
    waiting.get(m.probeReply)?.(m);
    waiting.delete(m.probeReply);
  });
  return (probe: string) =>
    new Promise<MemProbe & ServerCounts>((resolve, reject) => {
      const id = ++probeId;
      const t = setTimeout(() => reject(new Error(`${kind}: no ${probe} probe answer`)), 30_000);
      waiting.set(id, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      proc.send({ probe, id });
    });
}

/** The project node's chat_frames_encoded_total, scraped from the metrics address its start-up lines name. */
async function framesEncoded(url: string | undefined): Promise<number> {
  if (!url) throw new Error('the node did not say where its metrics are');
  const text = await (await fetch(url)).text();
  const m = /^chat_frames_encoded_total (\d+)/m.exec(text);
  if (!m) throw new Error('chat_frames_encoded_total is not in the node metrics');
  return Number(m[1]);
}

export async function startServer(kind: ServerKind, o: ServerOptions): Promise<ServerHandle> {
  const script =
    kind === 'project-memory' || kind === 'project-production'
      ? resolve(DIST, 'src/app/main.js')
      : resolve(DIST, kind.startsWith('relay') ? 'bench/servers/relay.js' : 'bench/servers/sio.js');
  const env = await serverEnv(kind, o);
  const probe = pathToFileURL(resolve(DIST, 'bench/servers/probe.js')).href;
  // BENCH_PROJECT_NODE_ARGS: extra node flags for the project's node only (experiments, e.g. --trace-gc).
  const extraArgs = kind.startsWith('project') ? (process.env.BENCH_PROJECT_NODE_ARGS ?? '').split(' ').filter(Boolean) : [];
  const [cmd, args] = command(o.pin === false ? undefined : 0, ['--expose-gc', '--import', probe, ...extraArgs, ...(o.nodeArgs ?? []), script]);
  const proc = spawn(cmd, args, { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  // BENCH_SERVER_LOG=<file>: append the project's output there too.
  if (process.env.BENCH_SERVER_LOG && kind.startsWith('project')) {
    const file = process.env.BENCH_SERVER_LOG;
    const log = (d: Buffer) => appendFileSync(file, d);
    proc.stdout!.on('data', log);
    proc.stderr!.on('data', log);
  }
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + 90_000;
  let address = '';
  while (!address) {
    const m = /listening on (\S+)/.exec(out);
    if (m) address = m[1]!;
    else if (proc.exitCode !== null) throw new Error(`${kind} exited (${proc.exitCode}) during start-up:\n${out.slice(-3000)}`);
    else if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${kind} did not start within 90 s:\n${out.slice(-3000)}`);
    } else await new Promise((r) => setTimeout(r, 50));
  }
  const metricsUrl = /metrics: (http:\/\/\S+\/metrics)/.exec(out)?.[1];
  const ask = prober(proc, kind);
  return {
    kind,
    pid: proc.pid!,
    address,
    output: () => out,
    mem: () => ask('mem').then((m) => ({ rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })),
    async counts() {
      // Only the project's node has the metric (the baselines of a group run are started with countEncodes too).
      const [m, encodes] = await Promise.all([ask('count'), o.countEncodes && kind.startsWith('project') ? framesEncoded(metricsUrl) : 0]);
      return { encodes, cql: m.cql ?? 0, loopP99Ms: m.loopP99Ms, loopMaxMs: m.loopMaxMs };
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Runs one workload in a fresh load-generator process; relays its memory probes to the server. */
export function runLoad<T>(spec: Spec, server: ServerHandle, timeoutMs: number): Promise<T> {
  // BENCH_LOADGEN_PROFILE=<dir>: profile the load generator itself (is it the limit?).
  const prof = process.env.BENCH_LOADGEN_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_LOADGEN_PROFILE}`] : [];
  // BENCH_LOADGEN_NODE_ARGS: extra node flags for the load generator (experiments, e.g. --trace-gc).
  const extra = (process.env.BENCH_LOADGEN_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const [cmd, args] = command(1, [...prof, ...extra, resolve(DIST, 'bench/load/loadgen.js')]);
  const child: ChildProcess = spawn(cmd, args, { cwd: ROOT, env: cleanEnv({}), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(() => reject(new Error(`${spec.label}: load generator timed out after ${Math.round(timeoutMs / 1000)} s`)));
    }, timeoutMs);
    child.on('message', (m: { probe?: string; id?: number; result?: T; error?: string }) => {
      if (m.probe === 'mem') {
        server.mem().then(
          (mem) => child.connected && child.send({ probeReply: m.id, ...mem }),
          (e: Error) => child.connected && child.send({ probeReply: m.id, probeError: e.message }),
        );
      } else if (m.probe === 'count') {
        server.counts().then(
          (c) => child.connected && child.send({ probeReply: m.id, ...c }),
          // Answered either way: a probe left unanswered hung the load generator until its timeout.
          (e: Error) => child.connected && child.send({ probeReply: m.id, probeError: e.message }),
        );
      } else if ('result' in m) finish(() => resolve(m.result as T));
      else if (m.error) finish(() => reject(new Error(`${spec.label}: ${m.error}`)));
    });
    child.once('exit', (code, sig) => finish(() => reject(new Error(`${spec.label}: load generator exited (${code ?? sig}) without a result`))));
    child.send({ spec });
  });
}
