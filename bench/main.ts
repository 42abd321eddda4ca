import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { ServerFrame } from '../src/gen/chat/v1/chat.js';
import { Message, MessageKind } from '../src/gen/chat/v1/common.js';
import { MODES, type Mode, type ModeConfig } from './config.js';
import { hasTaskset, runLoad, startServer, type ServerHandle, type ServerKind, type ServerOptions } from './lib/child.js';
import { findPids } from './lib/procstat.js';
import type { DensityResult } from './load/density.js';
import type { Spec } from './load/loadgen.js';
import type { RampParams, RampResult, StepResult } from './load/ramp.js';
import type { StormResult } from './load/storm.js';
import { profileMarkdown, summarize } from './report/cpuprofile.js';
import { markdown } from './report/markdown.js';
import { chart, type Series } from './report/svg.js';
import { type DIRECT, ok, ratiosOf, targetsOf, type Outcome, type Results } from './report/targets.js';

/**
 * `node dist/bench/main.js quick|full` runs every workload against every
 * target, each server and the load generator in processes of their own, and
 * writes bench/results/<mode>-<timestamp>.json, <mode>-latest.md and
 * <mode>-latest.svg. `node dist/bench/main.js profile [rate] [seconds]` runs
 * the memory node under --cpu-prof at one 1:1 rate and prints its hot spots.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = resolve(ROOT, 'bench/results');
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CQL = process.env.BENCH_CQL_CONTACT_POINT ?? '127.0.0.1:9042';
const t0 = Date.now();
const elapsed = () => ((Date.now() - t0) / 1000).toFixed(0).padStart(3);
const log = (s: string) => process.stderr.write(`[bench ${elapsed()}s] ${s}\n`);

const runId = randomBytes(3).toString('hex');
const serverOpts: ServerOptions = {
  runId,
  keyspace: `bench_${runId}`,
  durableKeyspace: `bench_${runId}_durable`,
  cqlContactPoint: CQL,
  redisPrefix: `bench${runId}:`,
  redisUrl: REDIS_URL,
};
let specSeq = 0;

/** Bytes of the project's delivered frame for a body of `bodyBytes` (ids shaped like the real ones). */
function frameBytes(bodyBytes: number): number {
  const u1 = 'u_' + randomUUID().replaceAll('-', '');
  const u2 = 'u_' + randomUUID().replaceAll('-', '');
  const [a, b] = u1 < u2 ? [u1, u2] : [u2, u1];
  return ServerFrame.encode({
    frame: {
      $case: 'message',
      message: Message.create({
        channelId: `d_${a}_${b}`,
        id: 12345,
        senderUserId: u1,
        senderDeviceId: 'd0',
        clientMsgId: randomUUID(),
        body: 'x'.repeat(bodyBytes),
        sentAtMs: Date.now(),
        kind: MessageKind.MESSAGE_KIND_USER,
      }),
    },
  }).finish().length;
}

/** Which code was measured: the commit, and the files under src/ and proto/ that differ from it (read-only git). */
function tree(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'proto'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return dirty.length ? `${head} + uncommitted changes in ${dirty.join(', ')}` : head;
  } catch {
    return 'unknown (no git)';
  }
}

function infraPids(): Record<string, number> {
  const out: Record<string, number> = {};
  const c = findPids('org.apache.cassandra.service.CassandraDaemon')[0];
  // The Redis the bench uses (its port), not whichever redis-server comes first: the tests'
  // Redis Cluster (7101-7106) may be running too, and metering one of its nodes reads as 0.
  const port = new URL(REDIS_URL).port || '6379';
  const r = findPids(`:${port}`).find((pid) => {
    try {
      // Redis rewrites its title: argv[0] reads "redis-server 127.0.0.1:6379" (plus " [cluster]" on a cluster node).
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!.trim();
      return /(^|\/)redis-server\s/.test(title) && title.split(/\s+/)[1]!.endsWith(`:${port}`);
    } catch {
      return false;
    }
  });
  if (c) out.cassandra = c;
  if (r) out.redis = r;
  return out;
}

async function withServer<T>(kind: ServerKind, fn: (s: ServerHandle) => Promise<T>, extra: Partial<ServerOptions> = {}): Promise<T> {
  const s = await startServer(kind, { ...serverOpts, ...extra });
  try {
    return await fn(s);
  } catch (e) {
    const tail = s.output().trim().split('\n').slice(-5).join('\n');
    if (tail) log(`  last server output:\n${tail}`);
    throw e;
  } finally {
    await s.stop();
  }
}

const rampTargets: { name: (typeof DIRECT)[number]; server: ServerKind; kind: Spec['kind']; acks?: boolean }[] = [
  { name: 'ceiling', server: 'relay', kind: 'relay' },
  { name: 'ack relay', server: 'relay-ack', kind: 'relay' },
  { name: 'project-memory', server: 'project-memory', kind: 'project' },
  { name: 'socket.io', server: 'sio', kind: 'sio' },
  { name: 'socket.io+acks', server: 'sio', kind: 'sio', acks: true },
  { name: 'durable relay', server: 'relay-durable', kind: 'relay' },
  { name: 'project-production', server: 'project-production', kind: 'project' },
  { name: 'socket.io+redis', server: 'sio-redis', kind: 'sio' },
];

/** Targets that use Redis and Cassandra (their CPU counts as theirs, their requests per message are reported). */
const usesRedis = (s: ServerKind) => s === 'project-production' || s === 'sio-redis' || s === 'relay-durable';
const usesCql = (s: ServerKind) => s === 'project-production' || s === 'relay-durable';

/** One run: its mode and settings, what it measured so far and what it skipped. */
interface Run {
  mode: Mode;
  cfg: ModeConfig;
  /** Bytes of a delivered frame. */
  fb: number;
  infra: Record<string, number>;
  code: string;
  startedAt: Date;
  /** BENCH_ONLY: the phases to run (a partial run). */
  only: string[] | undefined;
  results: Results;
  skipped: string[];
}

async function bench(mode: Mode) {
  const cfg: ModeConfig = MODES[mode];
  const run: Run = {
    mode,
    cfg,
    fb: frameBytes(cfg.bodyBytes),
    infra: infraPids(),
    code: tree(),
    startedAt: new Date(),
    only: process.env.BENCH_ONLY?.split(',').filter(Boolean),
    results: { direct: {}, group: {}, density: {}, storm: {} },
    skipped: [],
  };
  log(`code: ${run.code}`);
  log(
    `${mode} run ${runId}: ${cpus().length} cores, node ${process.version}, ${hasTaskset ? 'servers on core 0, load generator on core 1' : 'no taskset: processes unpinned'}; ` +
      `body ${cfg.bodyBytes} B, delivered frame ${run.fb} B; infra ${JSON.stringify(run.infra)}`,
  );
  await directPhases(run);
  await groupPhases(run);
  await densityPhases(run);
  await stormPhases(run);
  await cleanupProduction();
  report(run);
}

/** Runs one phase unless filtered out or over the time budget; a failure is recorded, not thrown. */
async function phase<T>(run: Run, name: string, est: number, fn: () => Promise<T>): Promise<Outcome<T> | undefined> {
  if (run.only && !run.only.some((o) => name.includes(o))) return undefined;
  if (Date.now() - t0 + est > run.cfg.budgetMs) {
    log(`skipping ${name}: the ${run.cfg.budgetMs / 1000} s budget would be exceeded`);
    run.skipped.push(name);
    return undefined;
  }
  log(`${name}`);
  try {
    return await fn();
  } catch (e) {
    const msg = (e as Error).message;
    log(`${name} FAILED: ${msg.split('\n').slice(0, 6).join('\n')}`);
    return { error: msg };
  }
}

// Redis and Cassandra are metered on every run: on the others they are idle background, and `other` is the rest of the machine.
const pidsFor = (run: Run, s: ServerHandle) => ({ server: s.pid, ...run.infra });

/** 1. 1:1 ramps. */
async function directPhases(run: Run) {
  const { cfg, fb } = run;
  for (const t of rampTargets) {
    const production = usesRedis(t.server);
    if (t.server === 'sio-redis' && !cfg.socketioRedis) continue;
    const ramp: RampParams = {
      ...cfg.direct.ramp,
      ...(production ? cfg.direct.production : {}),
      startRate: cfg.direct.start[t.name] ?? cfg.direct.ramp.startRate,
    };
    const r = await phase(run, `1:1 ${t.name}`, 15_000, () =>
      withServer(t.server, (s) =>
        runLoad<RampResult>(
          {
            workload: 'ramp',
            label: `1:1 ${t.name}`,
            kind: t.kind,
            address: s.address,
            pids: pidsFor(run, s),
            runId: runId + 'r' + specSeq++,
            devices: cfg.direct.devices,
            blockSize: 2,
            connections: cfg.direct.connections,
            bodyBytes: cfg.bodyBytes,
            frameBytes: fb,
            ramp,
            acks: t.acks,
            cql: usesCql(t.server),
            redisUrl: usesRedis(t.server) ? REDIS_URL : undefined,
          },
          s,
          ramp.budgetMs + 180_000,
        ),
      ),
    );
    if (r) run.results.direct[t.name] = r;
  }
}

/** 2. groups of 100. */
async function groupPhases(run: Run) {
  const { cfg, fb } = run;
  const groupTargets = [
    { name: 'bare fan-out' as const, server: 'relay' as ServerKind, kind: 'relay' as const },
    { name: 'project-memory' as const, server: 'project-memory' as ServerKind, kind: 'project' as const },
    ...(cfg.group.production ? [{ name: 'project-production' as const, server: 'project-production' as ServerKind, kind: 'project' as const }] : []),
  ];
  for (const t of groupTargets) {
    const r = await phase(run, `groups of ${cfg.group.size}: ${t.name}`, 12_000, () =>
      withServer(
        t.server,
        (s) =>
          runLoad<RampResult>(
            {
              workload: 'ramp',
              label: `group ${t.name}`,
              kind: t.kind,
              address: s.address,
              pids: pidsFor(run, s),
              runId: runId + 'g' + specSeq++,
              devices: cfg.group.groups * cfg.group.size,
              blockSize: cfg.group.size,
              connections: cfg.group.connections,
              bodyBytes: cfg.bodyBytes,
              frameBytes: fb,
              ramp: { ...cfg.group.ramp, startRate: cfg.group.start[t.name] ?? cfg.group.ramp.startRate },
              countEncodes: t.kind === 'project',
              cql: usesCql(t.server),
              redisUrl: usesRedis(t.server) ? REDIS_URL : undefined,
            },
            s,
            cfg.group.ramp.budgetMs + 180_000,
          ),
        { countEncodes: true },
      ),
    );
    if (r) run.results.group[t.name] = r;
  }
}

/** 3. density. */
async function densityPhases(run: Run) {
  const { cfg } = run;
  for (const t of [
    { name: 'bare grpc-js' as const, server: 'relay' as ServerKind, kind: 'relay' as const },
    { name: 'project-memory' as const, server: 'project-memory' as ServerKind, kind: 'project' as const },
  ]) {
    // The project registers K/2 users and logs K devices in (one scrypt hash each), then opens the streams:
    // about 2.6 ms per stream on this box (100,000: 203 s of set-up and 37 s to open them).
    const est = 5000 + cfg.density.streams * (t.kind === 'project' ? 2.6 : 0.4);
    const r = await phase(run, `density: ${cfg.density.streams} idle streams on ${t.name}`, est, () =>
      withServer(
        t.server,
        async (s) => {
          const d = await runLoad<DensityResult>(
            {
              workload: 'density',
              label: `density ${t.name}`,
              kind: t.kind,
              address: s.address,
              pids: { server: s.pid },
              runId: runId + 'd' + specSeq++,
              ...cfg.density,
            },
            s,
            120_000 + cfg.density.streams * 6,
          );
          log(
            `density ${t.name}: ${d.aliveAtEnd}/${d.streams} streams, RSS ${(d.before.rss / 1048576).toFixed(1)} -> ${(d.mid.rss / 1048576).toFixed(1)} -> ${(d.after.rss / 1048576).toFixed(1)} MiB = ` +
              `${d.rssPerStream} B/stream (marginal ${d.marginalRssPerStream}, JS heap ${d.heapPerStream})`,
          );
          return d;
        },
        { pin: false },
      ),
    );
    if (r) run.results.density[t.name] = r;
  }
}

/** 4. reconnect storm. */
async function stormPhases(run: Run) {
  const { cfg } = run;
  for (const t of [
    { name: 'project-memory' as const, server: 'project-memory' as ServerKind },
    ...(cfg.storm.production ? [{ name: 'project-production' as const, server: 'project-production' as ServerKind }] : []),
  ]) {
    const production = t.server === 'project-production';
    const { production: _p, ...so } = cfg.storm;
    const r = await phase(
      run,
      `reconnect storm: ${cfg.storm.devices} devices ${cfg.storm.behind} behind on ${t.name}`,
      6000 + cfg.storm.devices * (production ? 20 : 10),
      () =>
        withServer(t.server, async (s) => {
          const st = await runLoad<StormResult>(
            {
              workload: 'storm',
              label: `storm ${t.name}`,
              kind: 'project',
              address: s.address,
              pids: pidsFor(run, s),
              runId: runId + 's' + specSeq++,
              ...so,
            },
            s,
            so.timeoutMs * 3 + 120_000,
          );
          log(
            `storm ${t.name}: ${st.caughtUp}/${st.devices} caught up in ${st.allCaughtUpMs} ms (p50 ${st.perDevice.p50}, p99 ${st.perDevice.p99}); missing ${st.missing}, duplicates ${st.duplicates}, out of order ${st.outOfOrder}`,
          );
          return st;
        }),
    );
    if (r) run.results.storm[t.name] = r;
  }
}

/** Caveats read off the ramps: generator-bound steps, an unsaturated server, noisy steps, losses. */
function runNotes(run: Run): string[] {
  const notes: string[] = [];
  for (const [kind, set] of [
    ['1:1', run.results.direct],
    ['groups', run.results.group],
  ] as const) {
    for (const [name, rr] of Object.entries(set)) {
      const r = ok(rr as Outcome<RampResult>);
      if (r) notes.push(...rampNotes(`${kind} ${name}`, name, r));
    }
  }
  if (run.skipped.length) notes.push(`Skipped for time: ${run.skipped.join(', ')}.`);
  notes.push(
    'Saturation = the highest step whose deliveries/s reached 95% of the offered rate with nothing lost after the drain wait and p99 <= 200 ms; ' +
      '"per server core" divides that by the CPU the server process used in the step (comparable even where the generator, not the server, was the limit).',
  );
  notes.push(
    'socket.io uses one WebSocket per device (its normal client model); socket.io+redis is one node with @socket.io/redis-adapter, so every emit is also published on Redis while local receivers get it directly.',
  );
  return notes;
}

function rampNotes(label: string, name: string, r: RampResult): string[] {
  const notes: string[] = [];
  const genBound = r.steps.filter((s) => s.why.includes('generator') || (s.cpu.loadgen ?? 0) >= 0.95).length;
  if (genBound)
    notes.push(
      `${label}: in ${genBound} step(s) the load generator used its whole core or fell behind its schedule; past them the measured rate is the generator's, a lower bound for the server.`,
    );
  const firstBad = r.steps.find((s) => !s.sustained);
  if (r.saturation && r.saturation.serverCpu < 0.85) {
    const store =
      firstBad && (firstBad.cpu.cassandra ?? 0) >= 0.8
        ? ` Cassandra used ${firstBad.cpu.cassandra} cores at the first saturated step: the store is the limit there.`
        : '';
    const gen = firstBad && (firstBad.cpu.loadgen ?? 0) >= 0.95 ? ' The load generator used its whole core at the first saturated step.' : '';
    notes.push(
      `${label}: the server used only ${r.saturation.serverCpu} cores at its best sustained step; its own limit lies higher (see the per-server-core figure).${store}${gen}`,
    );
  }
  // Work on the machine that is not this target's: other processes, and Redis/Cassandra when the target does not use them.
  const usesStore = name.includes('production') || name.includes('redis') || name.includes('durable');
  const noise = (s: StepResult) => Math.round(((s.cpu.other ?? 0) + (usesStore ? 0 : (s.cpu.cassandra ?? 0) + (s.cpu.redis ?? 0))) * 100) / 100;
  const noisy = r.steps.filter((s) => noise(s) > 0.25);
  if (noisy.length)
    notes.push(
      `${label}: ${noisy.length} step(s) (${noisy.map((s) => `${s.phase} ${s.offered}/s`).join(', ')}) ran while processes outside the test used more than 0.25 cores (up to ${Math.max(...noisy.map(noise))}): expect noise there.`,
    );
  if (r.missingAtEnd || r.extraAtEnd)
    notes.push(
      `${label}: at the end of the run ${r.missingAtEnd} deliveries of accepted messages had never arrived and ${r.extraAtEnd} had arrived more than once (all steps, after reopening closed streams from their cursors and waiting).`,
    );
  if (r.notAcceptedAtEnd)
    notes.push(
      `${label}: ${r.notAcceptedAtEnd} sends were never acknowledged (their stream was closed under overload before the server took them; a client resends those with the same client_msg_id).`,
    );
  const c = Object.entries(r.counters).filter(([, v]) => v);
  if (c.length) notes.push(`${label}: ${c.map(([a, b]) => `${a} ${b}`).join(', ')} (streams the server closed are reopened from their cursor between steps).`);
  return notes;
}

const chartLines = [
  { name: 'project (memory)', color: '#1f77b4', key: 'project-memory' },
  { name: 'project (Redis+Cassandra)', color: '#9467bd', key: 'project-production' },
  { name: 'bare grpc-js relay', color: '#2ca02c', key: 'ceiling' },
  { name: 'ack relay', color: '#17becf', key: 'ack relay' },
  { name: 'durable relay', color: '#8c564b', key: 'durable relay' },
  { name: 'socket.io', color: '#d62728', key: 'socket.io' },
  { name: 'socket.io with acks', color: '#e377c2', key: 'socket.io+acks' },
  { name: 'socket.io + Redis adapter', color: '#ff7f0e', key: 'socket.io+redis' },
] as const;

/** Writes the latency and CPU charts of the 1:1 ramps; returns their file names. */
function writeCharts(run: Run, base: string): { svgFile: string; cpuSvgFile: string } {
  const { results } = run;
  const seriesOf = (y: (x: StepResult, key: string) => number): Series[] =>
    chartLines
      .filter((s) => ok(results.direct[s.key]))
      .map((s) => ({
        name: s.name,
        color: s.color,
        points: ok(results.direct[s.key])!
          .steps.slice()
          .sort((a: StepResult, b: StepResult) => a.offered - b.offered)
          .map((x: StepResult) => ({ x: x.delivered, y: y(x, s.key), sustained: x.sustained })),
      }));
  const series = seriesOf((x) => x.latency.p99);
  // CPU of the target's own processes (the server, plus Cassandra and Redis where it uses them) per 1,000 deliveries.
  const cpuSeries = seriesOf((x, key) =>
    /production|redis|durable/.test(key) ? Object.values(x.cpuPer1k ?? {}).reduce((a, b) => a + b, 0) : (x.cpuPer1k?.server ?? NaN),
  );
  const svgFile = `${base}-latest.svg`;
  const cpuSvgFile = `${base}-cpu-latest.svg`;
  const subtitle = `${run.mode} run ${runId}, ${run.startedAt.toISOString().slice(0, 16)}Z, ${cpus().length} cores, ${run.cfg.bodyBytes}-byte bodies`;
  writeFileSync(resolve(OUT, svgFile), chart('1:1 chat: p99 delivery latency vs delivered messages/s', subtitle, series));
  writeFileSync(
    resolve(OUT, cpuSvgFile),
    chart('1:1 chat: CPU seconds per 1,000 delivered messages (server + its Cassandra and Redis)', subtitle, cpuSeries, 'CPU seconds per 1,000 messages (log)'),
  );
  return { svgFile, cpuSvgFile };
}

/** Writes the run's JSON, Markdown and charts under bench/results and prints the summary. */
function report(run: Run) {
  const { mode, cfg, fb, results, startedAt, code } = run;
  const notes = runNotes(run);
  const q = ratiosOf(results);
  const targets = targetsOf(results, q, mode, cfg.density.streams, cfg.storm.devices);
  const stamp = startedAt
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d\dZ$/, 'Z');
  mkdirSync(OUT, { recursive: true });
  // A run filtered with BENCH_ONLY must not replace the report of a whole run.
  const base = run.only ? `${mode}-partial` : mode;
  const { svgFile, cpuSvgFile } = writeCharts(run, base);
  const durationS = Math.round((Date.now() - t0) / 1000);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}. ${hasTaskset ? 'Each server pinned to core 0 and the load generator (one process hosting every device) to core 1 with taskset; Redis and Cassandra (production stack) unpinned on the same two cores.' : 'Processes unpinned (no taskset).'}`;
  const message = `Every message has a ${cfg.bodyBytes}-byte body carrying its send time; a delivered frame is ${fb} bytes on every target (the baselines pad their payload to the project's ServerFrame size). 1:1: ${cfg.direct.devices} devices in ${cfg.direct.devices / 2} pairs over ${cfg.direct.connections} HTTP/2 connections, every device sending to its peer. Groups: ${cfg.group.groups} groups of ${cfg.group.size} over ${cfg.group.connections} connections.`;
  const json = {
    mode,
    runId,
    startedAt: startedAt.toISOString(),
    durationS,
    code,
    machine,
    message,
    frameBytes: fb,
    config: cfg,
    results,
    ratios: q,
    targets,
    notes,
    skipped: run.skipped,
  };
  const jsonFile = resolve(OUT, `${base}-${stamp}.json`);
  writeFileSync(jsonFile, JSON.stringify(json, null, 2));
  const md = markdown(
    { mode, runId, startedAt: startedAt.toISOString(), durationS, code, machine, message, notes, chartFile: svgFile, cpuChartFile: cpuSvgFile },
    results,
    q,
    targets,
  );
  writeFileSync(resolve(OUT, `${base}-latest.md`), md);
  log(`wrote ${jsonFile.replace(ROOT + '/', '')}, bench/results/${base}-latest.md bench/results/${svgFile} and ${cpuSvgFile} (${durationS} s)`);
  process.stdout.write('\n' + md.split('\n## 1:1')[0] + '\n');
}

/** Drops the run's keyspace and Redis keys (bounded scan). */
async function cleanupProduction() {
  try {
    const [{ Redis }, cassandra] = await Promise.all([import('ioredis'), import('cassandra-driver')]);
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    await redis.connect();
    let cursor = '0';
    let deleted = 0;
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${serverOpts.redisPrefix}*`, 'COUNT', 1000);
      if (keys.length) deleted += await redis.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
    redis.disconnect();
    const client = new cassandra.default.Client({ contactPoints: [CQL], localDataCenter: 'datacenter1' });
    await client.execute(`DROP KEYSPACE IF EXISTS ${serverOpts.keyspace}`);
    await client.execute(`DROP KEYSPACE IF EXISTS ${serverOpts.durableKeyspace}`);
    await client.shutdown();
    log(`cleaned up keyspaces ${serverOpts.keyspace}, ${serverOpts.durableKeyspace} and ${deleted} Redis keys`);
  } catch (e) {
    log(`cleanup failed (harmless): ${(e as Error).message}`);
  }
}

/** One 1:1 step on the memory node under --cpu-prof; prints the top self-time functions. */
async function profile(rateArg?: string, secondsArg?: string, target: 'project-memory' | 'project-production' = 'project-memory') {
  const cfg = MODES.full;
  let rate = Number(rateArg);
  if (!rate) {
    for (const m of ['full', 'quick']) {
      const files = existsSync(OUT)
        ? readdirSync(OUT)
            .filter((f) => f.startsWith(`${m}-`) && f.endsWith('.json'))
            .sort()
        : [];
      const last = files.at(-1);
      const sat = last ? JSON.parse(readFileSync(resolve(OUT, last), 'utf8'))?.results?.direct?.[target]?.saturation?.offered : undefined;
      if (sat) {
        rate = sat;
        log(`rate ${rate}/s: the memory node's saturation in ${last}`);
        break;
      }
    }
  }
  rate ||= 5000;
  const ms = (Number(secondsArg) || 20) * 1000;
  const dir = resolve(OUT, `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, { recursive: true });
  const fb = frameBytes(cfg.bodyBytes);
  const step = await withServer(
    target,
    (s) =>
      runLoad<StepResult>(
        {
          workload: 'ramp',
          label: `1:1 ${target} (profiled)`,
          kind: 'project',
          address: s.address,
          pids: { server: s.pid },
          runId: runId + 'p',
          devices: cfg.direct.devices,
          blockSize: 2,
          connections: cfg.direct.connections,
          bodyBytes: cfg.bodyBytes,
          frameBytes: fb,
          ramp: { ...cfg.direct.ramp, warmMs: 1000, drainMs: 10_000 },
          fixed: { rate, ms },
        },
        s,
        ms + 180_000,
      ),
    { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] },
  );
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  const summary = summarize(resolve(dir, file), 15, ROOT + '/');
  const md = profileMarkdown(
    summary,
    `# CPU profile: ${target === 'project-memory' ? 'memory' : 'production-stack'} node, 1:1 at ${rate} msg/s for ${ms / 1000} s (delivered ${step.delivered}/s, p99 ${step.latency.p99} ms, server CPU ${step.cpu.server})\n\nProfile: ${resolve(dir, file).replace(ROOT + '/', '')} (includes start-up and account setup).`,
  );
  writeFileSync(resolve(OUT, 'profile-latest.md'), md);
  process.stdout.write(md);
}

const [cmd, ...rest] = process.argv.slice(2);
const main =
  cmd === 'profile'
    ? profile(rest[0], rest[1], rest[2] === 'production' ? 'project-production' : 'project-memory')
    : cmd === 'quick' || cmd === 'full'
      ? bench(cmd)
      : Promise.reject(new Error('usage: node dist/bench/main.js quick|full|profile [rate] [seconds] [memory|production]'));
main.then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  },
);
