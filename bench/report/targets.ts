import type { DensityResult } from '../load/density.js';
import type { RampResult } from '../load/ramp.js';
import type { StormResult } from '../load/storm.js';
import type { Mode } from '../config.js';

export type Outcome<T> = T | { error: string };
export const ok = <T>(o: Outcome<T> | undefined): T | undefined => (o && !(typeof o === 'object' && 'error' in o) ? (o as T) : undefined);

/** Target names used as keys of the result JSON. */
export const DIRECT = [
  'project-memory',
  'project-production',
  'ceiling',
  'ack relay',
  'durable relay',
  'socket.io',
  'socket.io+acks',
  'socket.io+redis',
] as const;
export const GROUP = ['project-memory', 'project-production', 'bare fan-out'] as const;
export const DENSITY = ['project-memory', 'bare grpc-js'] as const;
export const STORM = ['project-memory', 'project-production'] as const;

export interface Results {
  direct: Partial<Record<(typeof DIRECT)[number], Outcome<RampResult>>>;
  group: Partial<Record<(typeof GROUP)[number], Outcome<RampResult>>>;
  density: Partial<Record<(typeof DENSITY)[number], Outcome<DensityResult>>>;
  storm: Partial<Record<(typeof STORM)[number], Outcome<StormResult>>>;
}

export interface Target {
  target: string;
  measured: string;
  /** null: not measured in this run (or not observable from outside). */
  met: boolean | null;
}

export type Ratios = Record<string, number | null>;

const ratio = (a?: number | null, b?: number | null) => (a && b ? Math.round((a / b) * 10_000) / 10_000 : null);
const pct = (r: number | null) => (r === null ? 'n/a' : `${Math.round(r * 10_000) / 100}%`);
const n = (v: number | undefined | null) => (v === undefined || v === null || !Number.isFinite(v) ? 'n/a' : Math.round(v).toLocaleString('en-US'));

/** The highest p99 over the sustained steps (the half step included) at or below half of the saturation rate. */
export function worstP99UpToHalf(r: RampResult | undefined): number | null {
  if (!r?.saturation) return null;
  const limit = r.saturation.offered / 2;
  const steps = [...r.steps, ...(r.half ? [r.half] : [])].filter((s) => s.sustained && s.offered <= limit);
  return steps.length ? Math.max(...steps.map((s) => (s.lastDelivery ?? s.latency).p99)) : null;
}

export function ratiosOf(r: Results): Ratios {
  const sat = (k: (typeof DIRECT)[number]) => ok(r.direct[k])?.saturation?.delivered ?? null;
  const eff = (k: (typeof DIRECT)[number]) => ok(r.direct[k])?.saturation?.deliveriesPerServerCore ?? null;
  const gsat = (k: (typeof GROUP)[number]) => ok(r.group[k])?.saturation?.delivered ?? null;
  const pm = ok(r.density['project-memory']);
  const pb = ok(r.density['bare grpc-js']);
  const sm = ok(r.storm['project-memory']);
  const sp = ok(r.storm['project-production']);
  return {
    memoryOverCeiling: ratio(sat('project-memory'), sat('ceiling')),
    memoryOverSocketio: ratio(sat('project-memory'), sat('socket.io')),
    productionOverCeiling: ratio(sat('project-production'), sat('ceiling')),
    productionOverSocketioRedis: ratio(sat('project-production'), sat('socket.io+redis')),
    socketioOverCeiling: ratio(sat('socket.io'), sat('ceiling')),
    memoryOverCeilingPerServerCore: ratio(eff('project-memory'), eff('ceiling')),
    memoryOverAckRelay: ratio(sat('project-memory'), sat('ack relay')),
    memoryOverAckRelayPerServerCore: ratio(eff('project-memory'), eff('ack relay')),
    memoryOverSocketioAcks: ratio(sat('project-memory'), sat('socket.io+acks')),
    memoryOverSocketioAcksPerServerCore: ratio(eff('project-memory'), eff('socket.io+acks')),
    productionOverDurableRelay: ratio(sat('project-production'), sat('durable relay')),
    memoryWorstP99UpToHalfMs: worstP99UpToHalf(ok(r.direct['project-memory'])),
    productionWorstP99UpToHalfMs: worstP99UpToHalf(ok(r.direct['project-production'])),
    memoryOverSocketioPerServerCore: ratio(eff('project-memory'), eff('socket.io')),
    memoryP99AtHalfMs: ok(r.direct['project-memory'])?.half?.latency.p99 ?? null,
    productionP99AtHalfMs: ok(r.direct['project-production'])?.half?.latency.p99 ?? null,
    groupMemoryOverBare: ratio(gsat('project-memory'), gsat('bare fan-out')),
    groupProductionOverBare: ratio(gsat('project-production'), gsat('bare fan-out')),
    groupMemoryEncodesPerMessage: ok(r.group['project-memory'])?.half?.encodesPerMessage ?? null,
    groupProductionEncodesPerMessage: ok(r.group['project-production'])?.half?.encodesPerMessage ?? null,
    rssPerStreamRatio: pm && pb ? ratio(pm.rssPerStream, pb.rssPerStream) : null,
    marginalRssPerStreamRatio: pm && pb ? ratio(pm.marginalRssPerStream, pb.marginalRssPerStream) : null,
    stormMemoryMs: sm?.allCaughtUpMs ?? null,
    stormMemoryMissing: sm ? sm.missing : null,
    stormProductionMs: sp?.allCaughtUpMs ?? null,
    stormProductionMissing: sp ? sp.missing : null,
  };
}

type Sat = { sat: (k: (typeof DIRECT)[number]) => number | undefined; gsat: (k: (typeof GROUP)[number]) => number | undefined };
const ge = (v: number | null, min: number) => (v === null ? null : v >= min);
const le = (v: number | null, max: number) => (v === null ? null : v <= max);

export function targetsOf(r: Results, q: Ratios, mode: Mode, densityK: number, stormDevices: number): Target[] {
  const s: Sat = {
    sat: (k) => ok(r.direct[k])?.saturation?.delivered,
    gsat: (k) => ok(r.group[k])?.saturation?.delivered,
  };
  return [...directTargets(r, q, s), ...groupTargets(q, s), ...densityTargets(r, q, mode, densityK), ...stormTargets(r, stormDevices)];
}

function directTargets(r: Results, q: Ratios, { sat }: Sat): Target[] {
  const t: Target[] = [];
  const eff = (k: (typeof DIRECT)[number]) => ok(r.direct[k])?.saturation?.deliveriesPerServerCore;
  t.push({
    target: "Memory 1:1: deliveries per server core >= 60% of the ack relay's",
    measured: `${n(eff('project-memory'))} vs ${n(eff('ack relay'))} msg/s per core = ${pct(q.memoryOverAckRelayPerServerCore!)} (saturation: ${n(sat('project-memory'))} vs ${n(sat('ack relay'))} msg/s = ${pct(q.memoryOverAckRelay!)})`,
    met: ge(q.memoryOverAckRelayPerServerCore!, 0.6),
  });
  t.push({
    target: 'Memory 1:1 saturation >= socket.io with acks',
    measured: `${n(sat('project-memory'))} vs ${n(sat('socket.io+acks'))} msg/s = ${pct(q.memoryOverSocketioAcks!)} (per server core: ${pct(q.memoryOverSocketioAcksPerServerCore!)})`,
    met: ge(q.memoryOverSocketioAcks!, 1),
  });
  t.push({
    target: "Production 1:1 saturation >= 70% of the durable relay's",
    measured: `${n(sat('project-production'))} vs ${n(sat('durable relay'))} msg/s = ${pct(q.productionOverDurableRelay!)}`,
    met: ge(q.productionOverDurableRelay!, 0.7),
  });
  const hp = ok(r.direct['project-production'])?.half;
  t.push({
    target: 'Production: p99 at half of own saturation <= 50 ms',
    measured: hp ? `${hp.latency.p99} ms at ${n(hp.offered)} msg/s` : 'n/a',
    met: le(q.productionP99AtHalfMs!, 50),
  });
  for (const [k, name, max] of [
    ['project-memory', 'Memory', 10],
    ['project-production', 'Production', 50],
  ] as const) {
    const rr = ok(r.direct[k]);
    const v = worstP99UpToHalf(rr);
    const upTo = rr?.saturation ? n(rr.saturation.offered / 2) : 'n/a';
    t.push({
      target: `${name}: p99 <= ${max} ms at every sustained step up to half of own saturation`,
      measured: v === null ? 'n/a' : `worst p99 ${v} ms over the sustained steps up to ${upTo} msg/s`,
      met: le(v, max),
    });
  }
  return t;
}

function groupTargets(q: Ratios, { gsat }: Sat): Target[] {
  const t: Target[] = [];
  const enc = q.groupMemoryEncodesPerMessage ?? null;
  t.push({
    target: '100-member groups: a message is serialized once, not per receiver',
    measured:
      enc === null
        ? 'n/a'
        : `${enc} ServerFrame encodes per group message at half saturation (memory node; frames serialized by the server's transport, read by the harness's preload). ` +
          "Once per message is ~2 (the message frame, shared by all 99 receiving streams, and the sender's send_ack); per receiver would be ~100" +
          (enc < 1 ? '. Below 1 means the count is broken, not that nothing was encoded' : ''),
    met: enc === null ? null : enc >= 1 && enc <= 3,
  });
  t.push({
    target: '100-member group fan-out deliveries/s >= 80% of a bare grpc-js fan-out',
    measured:
      `${n(gsat('project-memory'))} vs ${n(gsat('bare fan-out'))} deliveries/s = ${pct(q.groupMemoryOverBare!)}` +
      (q.groupProductionOverBare != null ? `; production ${n(gsat('project-production'))} = ${pct(q.groupProductionOverBare)}` : ''),
    met: ge(q.groupMemoryOverBare!, 0.8),
  });
  return t;
}

function densityTargets(r: Results, q: Ratios, mode: Mode, densityK: number): Target[] {
  const t: Target[] = [];
  const pm = ok(r.density['project-memory']);
  const pb = ok(r.density['bare grpc-js']);
  t.push({
    target: '100,000 idle authenticated streams on one node',
    measured: pm
      ? `${n(pm.aliveAtEnd)} of ${n(pm.streams)} streams open after the idle period` + (mode === 'quick' ? ' (quick mode: K=' + densityK + ')' : '')
      : 'n/a',
    met: pm ? (pm.streams >= 100_000 ? pm.aliveAtEnd === pm.streams : null) : null,
  });
  const worst = q.rssPerStreamRatio !== null && q.marginalRssPerStreamRatio !== null ? Math.max(q.rssPerStreamRatio!, q.marginalRssPerStreamRatio!) : null;
  t.push({
    target: 'Server RSS per idle stream <= 1.5x the bare grpc-js figure',
    measured:
      pm && pb
        ? `(after - before) / K: ${n(pm.rssPerStream)} vs ${n(pb.rssPerStream)} B = ${q.rssPerStreamRatio}x; marginal (second half of the streams): ${n(pm.marginalRssPerStream)} vs ${n(pb.marginalRssPerStream)} B = ${q.marginalRssPerStreamRatio}x (met only if both are)`
        : 'n/a',
    met: le(worst, 1.5),
  });
  return t;
}

function stormTargets(r: Results, stormDevices: number): Target[] {
  const t: Target[] = [];
  for (const [k, name] of [
    ['project-memory', 'memory'],
    ['project-production', 'production'],
  ] as const) {
    const s = ok(r.storm[k]);
    if (!s && !r.storm[k]) continue;
    t.push({
      target: `Reconnect storm (${name}): all ${n(stormDevices)} devices caught up, nothing missing`,
      measured: s
        ? `${s.caughtUp}/${s.devices} caught up in ${n(s.allCaughtUpMs)} ms; missing ${s.missing}, duplicates ${s.duplicates}, out of order ${s.outOfOrder}`
        : 'failed: ' + (r.storm[k] as { error: string }).error.split('\n')[0],
      met: s ? s.caughtUp === s.devices && s.missing === 0 && s.duplicates === 0 && s.outOfOrder === 0 && (s.devices >= 1000 || null) : false,
    });
  }
  return t;
}
