import { CpuMeter } from '../lib/procstat.js';
import { projectDensity, relayDensity, type MemProbe } from './density.js';
import type { Fleet, FleetOptions } from './fleet.js';
import { ProjectFleet } from './project.js';
import { runRamp, runStep, type RampParams } from './ramp.js';
import { Recorder } from './recorder.js';
import { RelayFleet } from './relay.js';
import { SioFleet } from './sio.js';
import { storm } from './storm.js';

/**
 * The load generator: one process (pinned to its own core when taskset is
 * there), started by bench/main.ts per workload and target, over IPC. It
 * hosts every simulated device: senders and receivers share its clock.
 * Progress goes to stderr, the result back over IPC.
 */

export type TargetKind = 'project' | 'relay' | 'sio';

interface Base {
  label: string;
  kind: TargetKind;
  address: string;
  /** Processes whose CPU is reported: server (and cassandra, redis for the production stack). */
  pids: Record<string, number>;
  runId: string;
}

export type Spec =
  | (Base & {
      workload: 'ramp';
      devices: number;
      blockSize: number;
      connections: number;
      bodyBytes: number;
      frameBytes: number;
      ramp: RampParams;
      /** Profiling: one step at this rate for this long instead of a ramp. */
      fixed?: { rate: number; ms: number };
      /** The server counts ServerFrame encodes: report encodes per sent message for each step. */
      countEncodes?: boolean;
      /** The server counts its CQL requests: report requests per sent message for each step. */
      cql?: boolean;
      /** Report Redis commands per sent message (INFO commandstats of this Redis, whole server). */
      redisUrl?: string;
      /** socket.io: emit with an acknowledgement callback. */
      acks?: boolean;
    })
  | (Base & { workload: 'density'; streams: number; connections: number; idleMs: number })
  | (Base & { workload: 'storm'; devices: number; usersPerChannel: number; behind: number; connections: number; timeoutMs: number });

const log = (s: string) => process.stderr.write(s + '\n');

let probeId = 0;
type Counts = { encodes: number; cql: number; loopP99Ms: number; loopMaxMs: number; probeError?: string };
const probes = new Map<number, (m: MemProbe & Counts) => void>();
const ask = (kind: 'mem' | 'count') =>
  new Promise<MemProbe & Counts>((resolve, reject) => {
    const id = ++probeId;
    probes.set(id, (m) => (m.probeError ? reject(new Error(`${kind} probe: ${m.probeError}`)) : resolve(m)));
    process.send!({ probe: kind, id });
  });
const probe = (): Promise<MemProbe> => ask('mem');
/**
 * Server-side counters (ServerFrame encodes, CQL requests) and Redis commands (INFO commandstats,
 * whole server) so far; and the server's event-loop delay (p99, max) since the previous call.
 */
function counters(spec: { countEncodes?: boolean; cql?: boolean; redisUrl?: string }): () => Promise<Record<string, number>> {
  const redis = spec.redisUrl ? redisCalls(spec.redisUrl) : undefined;
  return async () => {
    const [c, r] = await Promise.all([ask('count'), redis?.()]);
    const out: Record<string, number> = { loopP99Ms: c.loopP99Ms, loopMaxMs: c.loopMaxMs };
    if (spec.countEncodes) out.encodes = c.encodes;
    if (spec.cql) out.cql = c.cql;
    if (r !== undefined) out.redis = r;
    return out;
  };
}

/** Commands the Redis server has executed so far (sum of INFO commandstats calls, not counting INFO itself). */
function redisCalls(url: string): () => Promise<number> {
  const conn = import('ioredis').then(({ Redis }) => new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false }));
  closers.push(() => conn.then((c) => c.disconnect()));
  return async () => {
    const text = await (await conn).info('commandstats');
    let n = 0;
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (m[1] !== 'info') n += Number(m[2]);
    return n;
  };
}
const closers: (() => Promise<void>)[] = [];

async function run(spec: Spec): Promise<unknown> {
  switch (spec.workload) {
    case 'ramp': {
      const rec = new Recorder(spec.blockSize - 1);
      const o: FleetOptions = { ...spec, recorder: rec, log };
      let fleet: Fleet;
      if (spec.kind === 'project') fleet = await ProjectFleet.create(o);
      else if (spec.kind === 'relay') {
        const f = new RelayFleet(o);
        await f.open();
        fleet = f;
      } else {
        const f = new SioFleet(o, spec.acks);
        await f.open();
        fleet = f;
      }
      const usesStore = spec.redisUrl !== undefined || spec.label.includes('production');
      const ctx = {
        label: spec.label,
        fleet,
        rec,
        cpu: new CpuMeter({ ...spec.pids, loadgen: process.pid }),
        log,
        counters: counters(spec),
        noiseKeys: usesStore ? ['other'] : ['other', 'cassandra', 'redis'],
      };
      try {
        if (spec.fixed) return await runStep(ctx, spec.ramp, 1, spec.fixed.rate, spec.fixed.ms, 'ramp');
        return await runRamp(ctx, spec.ramp);
      } finally {
        await fleet.close();
        for (const c of closers) await c().catch(() => {});
      }
    }
    case 'density':
      return spec.kind === 'project'
        ? projectDensity(spec.address, spec.streams, spec.connections, spec.idleMs, spec.runId, probe, log)
        : relayDensity(spec.address, spec.streams, spec.connections, spec.idleMs, probe, log);
    case 'storm':
      return storm(spec.address, { ...spec }, log);
  }
}

process.on('message', (m: { spec?: Spec; probeReply?: number } & MemProbe & Counts) => {
  if (m.probeReply !== undefined) {
    probes.get(m.probeReply)?.(m);
    probes.delete(m.probeReply);
    return;
  }
  if (!m.spec) return;
  run(m.spec).then(
    (result) => {
      process.send!({ result }, () => process.exit(0));
    },
    (e: Error) => {
      process.send!({ error: e.stack ?? String(e) }, () => process.exit(0));
    },
  );
});
process.on('disconnect', () => process.exit(0));
