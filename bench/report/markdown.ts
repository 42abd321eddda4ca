import type { RampResult, StepResult } from '../load/ramp.js';
import { DENSITY, DIRECT, GROUP, ok, STORM, type Ratios, type Results, type Target } from './targets.js';

export interface ReportMeta {
  mode: string;
  runId: string;
  startedAt: string;
  durationS: number;
  code: string;
  machine: string;
  message: string;
  notes: string[];
  /** The CPU-per-1,000-messages chart. */
  cpuChartFile?: string;
  chartFile: string;
}

const n = (v: number | undefined | null, d = 0) =>
  v === undefined || v === null || !Number.isFinite(v) ? 'n/a' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: 0 });
const mb = (b: number) => (b / 1048576).toFixed(1);
const met = (m: boolean | null) => (m === null ? 'not measured' : m ? '**met**' : '**not met**');

function stepRow(name: string, s: StepResult) {
  const l = s.lastDelivery ?? s.latency;
  const cpu = ['server', 'cassandra', 'redis', 'loadgen', 'other']
    .filter((k) => s.cpu[k] !== undefined)
    .map((k) => `${k} ${s.cpu[k]!.toFixed(2)}`)
    .join(', ');
  const enc = s.encodesPerMessage !== undefined ? `; ${s.encodesPerMessage} encodes/msg` : '';
  const loop = s.serverLoop ? `${n(s.serverLoop.p99, 1)} / ${n(s.serverLoop.max, 1)}` : '-';
  return `| ${name} | ${s.phase} | ${n(s.offeredDeliveries)} | ${n(s.delivered)} | ${n(l.p50, 2)} | ${n(l.p95, 2)} | ${n(l.p99, 2)} | ${n(l.max, 1)} | ${loop} | ${cpu}${enc} | ${s.sustained ? 'ok' : s.why} |`;
}

function rampSection<K extends string>(title: string, unit: string, names: readonly K[], data: Partial<Record<K, unknown>>, latencyNote: string): string[] {
  const out = [`## ${title}`, ''];
  out.push(
    `| target | saturation (${unit}) | server CPU there (cores) | ${unit} per server core | peak ${unit} | p99 at half saturation (ms) | whole run: accepted but never delivered / duplicated / sends never acknowledged | result |`,
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const k of names) {
    const v = data[k];
    if (v === undefined) continue;
    const r = ok(v as RampResult);
    if (!r) {
      out.push(`| ${k} | | | | | | | failed: ${String((v as { error: string }).error).split('\n')[0]} |`);
      continue;
    }
    const s = r.saturation;
    const half = r.half ? (r.half.lastDelivery ?? r.half.latency).p99 : undefined;
    out.push(
      `| ${k} | ${n(s?.delivered)} | ${n(s?.serverCpu, 2)} | ${n(s?.deliveriesPerServerCore)} | ${n(r.peakDelivered)} | ${n(half, 2)} | ${n(r.missingAtEnd)} / ${n(r.extraAtEnd)} / ${r.notAcceptedAtEnd === undefined ? '-' : n(r.notAcceptedAtEnd)} | ${s ? 'ok' : 'never sustained'} |`,
    );
  }
  out.push('', `Steps (${latencyNote}; CPU in cores used during the step window):`, '');
  out.push(`| target | phase | offered ${unit} | delivered ${unit} | p50 ms | p95 ms | p99 ms | max ms | server loop delay p99 / max ms | CPU | result |`);
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
  for (const k of names) {
    const r = ok(data[k] as RampResult | undefined);
    if (!r) continue;
    for (const s of r.steps) out.push(stepRow(k, s));
    const c = Object.entries(r.counters).filter(([, v]) => v);
    if (c.length) out.push(`| ${k} | counters | ${c.map(([a, b]) => `${a} ${b}`).join(', ')} | | | | | | | | |`);
  }
  out.push('');
  return out;
}

/** Per target and step: CPU seconds per 1,000 deliveries for the server, Cassandra and Redis; CQL requests and Redis commands per message. */
function cpuSection<K extends string>(title: string, names: readonly K[], data: Partial<Record<K, unknown>>, unit: string): string[] {
  const out = [`## ${title}`, ''];
  out.push(
    'CPU seconds (user + system, from /proc) used by each process during the step window, divided by the deliveries in that window, times 1,000: ' +
      'unlike throughput it does not depend on how busy the load generator was. Cassandra and Redis are shared background for targets that do not use them (shown in italics). ' +
      "CQL requests are counted in the server process (its CQL driver calls); Redis commands are the whole Redis server's INFO commandstats delta (other clients of that Redis count too).",
    '',
  );
  out.push(
    `| target | phase | offered ${unit} | delivered ${unit} | server CPU-s / 1k | Cassandra CPU-s / 1k | Redis CPU-s / 1k | CQL requests / msg | Redis commands / msg | result |`,
  );
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const k of names) {
    const r = ok(data[k] as RampResult | undefined);
    if (!r) continue;
    const own = /production|redis|durable/.test(k);
    const cell = (v: number | undefined, store: boolean) => (v === undefined ? '' : store && !own ? `_${v}_` : String(v));
    for (const s of r.steps) {
      const c = s.cpuPer1k ?? {};
      out.push(
        `| ${k} | ${s.phase} | ${n(s.offeredDeliveries)} | ${n(s.delivered)} | ${cell(c.server, false)} | ${cell(c.cassandra, true)} | ${cell(c.redis, true)} | ${s.cqlPerMessage ?? ''} | ${s.redisPerMessage ?? ''} | ${s.sustained ? 'ok' : 'saturated'} |`,
      );
    }
  }
  out.push('');
  return out;
}

export function markdown(meta: ReportMeta, r: Results, q: Ratios, targets: Target[]): string {
  const out: string[] = [];
  out.push(`# Benchmark: ${meta.mode} run ${meta.runId}`, '');
  out.push(`${meta.startedAt}, ${n(meta.durationS)} s. Code: ${meta.code}. ${meta.machine}`, '');
  out.push(meta.message, '');
  out.push('## Targets (issue 14)', '');
  out.push('| target | measured | |', '|---|---|---|');
  for (const t of targets) out.push(`| ${t.target} | ${t.measured} | ${met(t.met)} |`);
  out.push('');
  out.push(`![p99 latency vs delivered msgs/s](${meta.chartFile})`, '');
  if (meta.cpuChartFile) out.push(`![CPU seconds per 1,000 messages vs delivered msgs/s](${meta.cpuChartFile})`, '');
  out.push(
    ...rampSection(
      '1:1 messages, stepped offered rate (open loop)',
      'msg/s',
      DIRECT,
      r.direct,
      'latency of every delivery, receive time minus send time at the receiving device',
    ),
  );
  out.push(...cpuSection('1:1: CPU seconds per 1,000 delivered messages, and store requests per message', DIRECT, r.direct, 'msg/s'));
  out.push(...rampSection('100-member groups', 'deliveries/s', GROUP, r.group, 'latency of the last of the 99 deliveries of each message'));
  out.push(...cpuSection('100-member groups: CPU seconds per 1,000 deliveries', GROUP, r.group, 'deliveries/s'));
  out.push(...densitySection(r), ...stormSection(r));
  out.push('## Ratios', '', '| ratio | value |', '|---|---:|');
  for (const [k, v] of Object.entries(q)) out.push(`| ${k} | ${v === null ? 'n/a' : v} |`);
  out.push('');
  if (meta.notes.length) out.push('## Notes', '', ...meta.notes.map((s) => `- ${s}`), '');
  return out.join('\n');
}

function densitySection(r: Results): string[] {
  const out: string[] = [];
  out.push('## Connection density: idle authenticated streams', '');
  out.push(
    '| server | streams | connections | open time (s) | RSS before / half / all (MiB) | RSS per stream (bytes) | marginal RSS per stream (bytes) | JS heap per stream (bytes) | open at end |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const k of DENSITY) {
    const v = r.density[k];
    if (!v) continue;
    const d = ok(v);
    if (!d) {
      out.push(`| ${k} | failed: ${String((v as { error: string }).error).split('\n')[0]} | | | | | | | |`);
      continue;
    }
    out.push(
      `| ${k} | ${n(d.streams)} | ${d.connections} | ${d.openSeconds} | ${mb(d.before.rss)} / ${mb(d.mid.rss)} / ${mb(d.after.rss)} | ${n(d.rssPerStream)} | ${n(d.marginalRssPerStream)} | ${n(d.heapPerStream)} | ${n(d.aliveAtEnd)} |`,
    );
  }
  out.push(
    '',
    'RSS is read in the server process after two full GCs (node --expose-gc): before the streams, with half of them open, and with all open after an idle period that spans a presence heartbeat round. ' +
      'RSS per stream = (after - before) / streams; marginal = (all - half) / (streams / 2), which is not flattered by memory the process had already committed during set-up (the project registers every account first).',
    '',
  );
  return out;
}

function stormSection(r: Results): string[] {
  const out: string[] = [];
  out.push('## Reconnect storm', '');
  out.push(
    '| backend | devices | channels | behind | all caught up (ms) | per device p50 / p99 / max (ms) | replayed msg/s | missing | duplicates | out of order | unexpected | server CPU |',
  );
  out.push('|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const k of STORM) {
    const v = r.storm[k];
    if (!v) continue;
    const s = ok(v);
    if (!s) {
      out.push(`| ${k} | failed: ${String((v as { error: string }).error).split('\n')[0]} | | | | | | | | | | |`);
      continue;
    }
    out.push(
      `| ${k} | ${n(s.devices)} | ${n(s.channels)} | ${s.behind} | ${n(s.allCaughtUpMs)} | ${n(s.perDevice.p50)} / ${n(s.perDevice.p99)} / ${n(s.perDevice.max)} | ${n(s.replayedPerSec)} | ${s.missing} | ${s.duplicates} | ${s.outOfOrder} | ${s.unexpected} | ${n(s.cpu.server, 2)} |`,
    );
  }
  out.push('');
  return out;
}
