import { nowMicros, nowMs } from '../lib/body.js';
import type { CpuMeter } from '../lib/procstat.js';
import { r1, type LatencySummary } from '../lib/stats.js';
import { sleep, waitFor, type Fleet } from './fleet.js';
import type { Recorder } from './recorder.js';

export interface RampParams {
  /** Messages per second offered at the first step; each next step multiplies by `factor`. */
  startRate: number;
  factor: number;
  maxRate: number;
  maxSteps: number;
  stepMs: number;
  /** The first part of each step is neither timed nor counted. */
  warmMs: number;
  /** Length of the extra step at half the saturation rate. */
  halfMs: number;
  /** How long to wait after a step for its messages to arrive. */
  drainMs: number;
  /** A step is sustained if deliveries/s >= sustainRatio x offered, nothing is lost and p99 <= p99LimitMs. */
  sustainRatio: number;
  p99LimitMs: number;
  /** Probes between the last sustained and the first saturated coarse step, as multiples of the sustained rate (e.g. 1.25, 1.5, 1.75). */
  refine: number[];
  /** After a step, wait up to this long for everything it sent to arrive before the next step starts. */
  settleMs: number;
  /** After the last step, wait up to this long for every delivery of the run before counting what never arrived. */
  finalWaitMs: number;
  /** Wall-clock budget of the whole ramp; past it no new step starts (the half step still runs). */
  budgetMs: number;
}

export interface StepResult {
  step: number;
  phase: 'ramp' | 'refine' | 'half';
  /** Offered messages/s (open loop). */
  offered: number;
  /** Deliveries/s the offered rate asks for (offered x receivers per message). */
  offeredDeliveries: number;
  /** Deliveries/s received inside the measurement window. */
  delivered: number;
  deliveryRatio: number;
  /** Deliveries of the measured messages still missing after the drain wait. */
  lost: number;
  /** Every delivery (ms). */
  latency: LatencySummary;
  /** Groups: the last delivery of each message (ms). */
  lastDelivery?: LatencySummary;
  /** Cores used during the window (1 = one full core). */
  cpu: Record<string, number>;
  /** How far the generator fell behind its schedule at worst (ms). */
  generatorBehindMs: number;
  /** ServerFrame encodes in the server per message sent in the window (when counted). */
  encodesPerMessage?: number;
  /** CQL requests the server sent per message sent in the window (servers that use Cassandra). */
  cqlPerMessage?: number;
  /** Redis commands (the whole Redis server's INFO commandstats) per message sent in the window (targets that use Redis). */
  redisPerMessage?: number;
  /** CPU seconds per 1,000 deliveries in the window, per process (server, cassandra, redis). */
  cpuPer1k: Record<string, number>;
  /** The server's event-loop delay in the window (ms): long turns, whatever caused them. */
  serverLoop?: { p99: number; max: number };
  notSent: number;
  sustained: boolean;
  why: string;
}

export interface RampResult {
  steps: StepResult[];
  /** The highest sustained step (null if none was). */
  saturation: null | { offered: number; delivered: number; serverCpu: number; deliveriesPerServerCore: number; p99: number };
  peakDelivered: number;
  half?: StepResult;
  counters: Record<string, number>;
  /** After the last step and a final wait: deliveries of accepted messages never received, and duplicate deliveries (all steps). */
  missingAtEnd: number;
  extraAtEnd: number;
  /** Project only: sends the server never acknowledged (their stream was closed first; a client would resend them). */
  notAcceptedAtEnd: number;
}

export interface RampContext {
  label: string;
  /** CPU keys that count as interference for this target (e.g. other, and cassandra/redis when the target does not use them). */
  noiseKeys: string[];
  fleet: Fleet;
  rec: Recorder;
  cpu: CpuMeter;
  log: (s: string) => void;
  /** Counters so far (encodes, cql, redis), where they are counted. */
  counters?: () => Promise<Record<string, number>>;
}

const fmt = (n: number) => (Number.isFinite(n) ? (n >= 100 ? Math.round(n).toString() : n.toFixed(n >= 10 ? 1 : 2)) : '-');

/** CPU seconds per 1,000 deliveries: cores used / deliveries per second x 1,000 (3 significant digits). */
export function per1k(cpu: Record<string, number>, deliveredPerSec: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ['server', 'cassandra', 'redis']) {
    const v = cpu[k];
    if (v !== undefined && deliveredPerSec > 0) out[k] = Number(((v / deliveredPerSec) * 1000).toPrecision(3));
  }
  return out;
}

/** What the sending part of a step saw: its schedule, how far it fell behind, and the CPU and counters around the measurement window. */
interface Driven {
  warmTag: number;
  measTag: number;
  warmEnd: number;
  end: number;
  scheduled: number;
  behindMax: number;
  notSent: number;
  cpuUse: Record<string, number>;
  c0: Promise<Record<string, number>> | undefined;
  c1: Promise<Record<string, number>> | undefined;
}

/** One open-loop step: sends on schedule whatever the replies do, then waits for stragglers. */
export async function runStep(ctx: RampContext, p: RampParams, idx: number, rate: number, durMs: number, phase: StepResult['phase']): Promise<StepResult> {
  const d = await drive(ctx, p, idx, rate, durMs);
  const drained = await waitFor(() => ctx.rec.outstanding(d.warmTag, d.measTag) <= 0, p.drainMs, 'drain').then(
    () => true,
    () => false,
  );
  const { r, delivered } = await stepResult(ctx, p, d, { idx, rate, durMs, phase, drained });
  logStep(ctx, r, delivered);
  return r;
}

/** Sends at `rate` for `durMs` (the first `warmMs` of it warm-up), round-robin over the devices, in bursts of at most 2% of a second. */
async function drive(ctx: RampContext, p: RampParams, idx: number, rate: number, durMs: number): Promise<Driven> {
  const { fleet, rec, cpu } = ctx;
  const warmTag = 2 * idx;
  const measTag = 2 * idx + 1;
  rec.beginStep(warmTag, measTag);
  const t0 = nowMs();
  const warmEnd = t0 + p.warmMs;
  const end = t0 + durMs;
  const maxBurst = Math.max(20, Math.ceil(rate * 0.02));
  let scheduled = 0;
  let behindMax = 0;
  let notSent = 0;
  let rr = idx % fleet.devices;
  let cpuStarted = false;
  let cpuUse: Record<string, number> = {};
  let c0: Promise<Record<string, number>> | undefined;
  let c1: Promise<Record<string, number>> | undefined;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = nowMs();
      if (!cpuStarted && now >= warmEnd) {
        cpu.start();
        c0 = ctx.counters?.();
        cpuStarted = true;
      }
      const due = Math.floor(((Math.min(now, end) - t0) / 1000) * rate);
      const n = Math.min(due - scheduled, maxBurst);
      const tag = now < warmEnd ? warmTag : measTag;
      for (let i = 0; i < n; i++) {
        const from = rr;
        rr = rr + 1 === fleet.devices ? 0 : rr + 1;
        const seq = rec.onSend(tag);
        if (!fleet.send(from, tag, seq, nowMicros())) {
          rec.unsend(tag, seq);
          notSent++;
        }
      }
      scheduled += Math.max(0, n);
      const behind = ((due - scheduled) / rate) * 1000;
      if (behind > behindMax) behindMax = behind;
      if (now >= end) {
        clearInterval(timer);
        cpuUse = cpu.read();
        c1 = ctx.counters?.();
        resolve();
      }
    }, 1);
  });
  return { warmTag, measTag, warmEnd, end, scheduled, behindMax, notSent, cpuUse, c0, c1 };
}

/** The step's figures and whether it was sustained (and if not, why). */
async function stepResult(
  ctx: RampContext,
  p: RampParams,
  d: Driven,
  s: { idx: number; rate: number; durMs: number; phase: StepResult['phase']; drained: boolean },
): Promise<{ r: StepResult; delivered: number }> {
  const { rec } = ctx;
  const { rate, durMs } = s;
  const windowS = (durMs - p.warmMs) / 1000;
  const latency = rec.lat.summary();
  // Deliveries/s: what arrived in the measurement window shifted by the median latency (so a
  // latency blip at the window's edge does not read as lost throughput; a queue that grows does).
  const shiftMs = Math.min(Number.isFinite(latency.p50) ? latency.p50 : 0, p.drainMs / 2);
  const delivered = rec.receivedBetween((d.warmEnd + shiftMs) * 1000, (d.end + shiftMs) * 1000) / windowS;
  const [k0, k1] = d.c0 && d.c1 ? await Promise.all([d.c0, d.c1]) : [{}, {}];
  const perMessage = (k: string) =>
    k0[k] !== undefined && k1[k] !== undefined ? Math.round(((k1[k]! - k0[k]!) / Math.max(1, rec.sent[d.measTag] ?? 0)) * 100) / 100 : undefined;
  const lost = Math.max(0, rec.outstanding(d.measTag));
  const lastDelivery = rec.fanout > 1 ? rec.last.summary() : undefined;
  const p99 = (lastDelivery ?? latency).p99;
  const totalDue = Math.floor((durMs / 1000) * rate);
  const generatorBound = d.scheduled < totalDue * 0.97;
  const offeredDeliveries = rate * rec.fanout;
  const deliveryRatio = delivered / offeredDeliveries;
  const why: string[] = [];
  if (generatorBound) why.push(`generator fell behind (${fmt(d.behindMax)} ms)`);
  if (deliveryRatio < p.sustainRatio) why.push(`delivered ${Math.round(deliveryRatio * 100)}% of offered`);
  if (lost > 0) why.push(`${lost} deliveries missing after ${p.drainMs} ms`);
  if (!(p99 <= p.p99LimitMs)) why.push(`p99 ${fmt(p99)} ms > ${p.p99LimitMs} ms`);
  if (d.notSent > 0) why.push(`${d.notSent} sends skipped (stream down)`);
  const r: StepResult = {
    step: s.idx,
    phase: s.phase,
    offered: rate,
    offeredDeliveries,
    delivered: r1(delivered),
    deliveryRatio: Math.round(deliveryRatio * 1000) / 1000,
    lost,
    latency,
    lastDelivery,
    cpu: d.cpuUse,
    generatorBehindMs: r1(d.behindMax),
    encodesPerMessage: perMessage('encodes'),
    cqlPerMessage: perMessage('cql'),
    redisPerMessage: perMessage('redis'),
    cpuPer1k: per1k(d.cpuUse, delivered),
    ...(k1.loopMaxMs !== undefined ? { serverLoop: { p99: k1.loopP99Ms!, max: k1.loopMaxMs } } : {}),
    notSent: d.notSent,
    sustained: why.length === 0,
    why: why.join('; ') || (s.drained ? 'ok' : 'ok (slow drain)'),
  };
  return { r, delivered };
}

/** `delivered`: the unrounded deliveries/s. */
function logStep(ctx: RampContext, r: StepResult, delivered: number) {
  const { latency, lastDelivery } = r;
  const lat = lastDelivery
    ? `last-delivery p50 ${fmt(lastDelivery.p50)} p99 ${fmt(lastDelivery.p99)} max ${fmt(lastDelivery.max)}`
    : `p50 ${fmt(latency.p50)} p95 ${fmt(latency.p95)} p99 ${fmt(latency.p99)} max ${fmt(latency.max)}`;
  const cpuTxt = Object.entries(r.cpu)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(' ');
  ctx.log(
    `${ctx.label} ${r.phase} step ${r.step}: offered ${fmt(r.offeredDeliveries)}/s delivered ${fmt(delivered)}/s ${lat} ms | cpu ${cpuTxt}` +
      (r.encodesPerMessage !== undefined ? ` | ${r.encodesPerMessage} encodes/msg` : '') +
      (r.cqlPerMessage !== undefined ? ` | ${r.cqlPerMessage} CQL/msg` : '') +
      (r.redisPerMessage !== undefined ? ` | ${r.redisPerMessage} Redis/msg` : '') +
      (r.serverLoop ? ` | server loop delay p99 ${r.serverLoop.p99} max ${r.serverLoop.max} ms` : '') +
      ` | CPU-s/1k ${Object.entries(r.cpuPer1k)
        .map(([k, v]) => `${k} ${v}`)
        .join(' ')}` +
      ` | ${r.sustained ? 'ok' : 'SATURATED: ' + r.why}`,
  );
}

/** Steps up the offered rate until saturation, refines, then measures at half the saturation rate. */
export async function runRamp(ctx: RampContext, p: RampParams): Promise<RampResult> {
  const steps: StepResult[] = [];
  const deadline = Date.now() + p.budgetMs;
  let idx = 1;
  const noise = (r: StepResult) => ctx.noiseKeys.reduce((a, k) => a + (r.cpu[k] ?? 0), 0);
  const step = async (rate: number, phase: StepResult['phase'], ms = p.stepMs): Promise<StepResult> => {
    let r = await runStep(ctx, p, idx++, rate, ms, phase);
    // A step that failed while something else on the machine took CPU is run again, once or twice.
    for (let retry = 0; !r.sustained && noise(r) > 0.2 && retry < 2 && Date.now() < deadline; retry++) {
      ctx.log(`${ctx.label}   step ${r.step} ran with ${noise(r).toFixed(2)} cores used outside the test: repeating it`);
      await settle(r);
      r = await runStep(ctx, p, idx++, rate, ms, phase);
    }
    steps.push(r);
    await settle(r);
    return r;
  };
  const settle = async (r: StepResult) => {
    const reopened = await ctx.fleet.repair();
    if (reopened) ctx.log(`${ctx.label}   reopened ${reopened} streams the server had closed`);
    const tags = [2 * r.step, 2 * r.step + 1];
    const settled = await waitFor(() => ctx.rec.outstanding(...tags) <= 0, p.settleMs, 'settle').then(
      () => true,
      () => false,
    );
    if (!settled) ctx.log(`${ctx.label}   ${ctx.rec.outstanding(...tags)} deliveries of step ${r.step} still missing after ${p.settleMs} ms more; going on`);
    await sleep(200);
  };

  // One warm-up step at the start rate, not recorded: the first seconds after set-up (cold JIT, the set-up's
  // own events still in flight) once read as saturation at a fraction of the rate every later step sustained.
  ctx.log(`${ctx.label}   warm-up step at ${p.startRate}/s (not recorded)`);
  await settle(await runStep(ctx, p, idx++, p.startRate, p.stepMs, 'ramp'));

  let rate = p.startRate;
  let good = 0;
  let bad = 0;
  while (steps.length < p.maxSteps && rate <= p.maxRate && Date.now() < deadline) {
    const r = await step(rate, 'ramp');
    if (!r.sustained) {
      bad = rate;
      break;
    }
    good = rate;
    rate *= p.factor;
  }
  if (good && bad) {
    for (const f of p.refine) {
      if (Date.now() >= deadline || steps.length >= p.maxSteps + p.refine.length) break;
      const r = await step(Math.round(good * f), 'refine');
      if (!r.sustained) break;
    }
  }
  const saturation = saturationOf(steps);
  const half = saturation ? await step(Math.round(saturation.offered / 2), 'half', p.halfMs) : undefined;
  const { missing, extra, notAccepted } = await finalIntegrity(ctx, p);
  return {
    steps,
    saturation,
    peakDelivered: Math.max(0, ...steps.map((s) => s.delivered)),
    half,
    counters: ctx.fleet.counters(),
    missingAtEnd: missing,
    extraAtEnd: extra,
    notAcceptedAtEnd: notAccepted,
  };
}

/** The best sustained step (what it delivered, not counting warm-up backlog that spilled into its window), or null. */
function saturationOf(steps: StepResult[]): RampResult['saturation'] {
  const sustained = steps.filter((s) => s.sustained);
  const kept = (s: StepResult) => Math.min(s.delivered, s.offeredDeliveries);
  const best = sustained.reduce<StepResult | undefined>((a, s) => (!a || kept(s) > kept(a) ? s : a), undefined);
  return best
    ? {
        offered: best.offered,
        delivered: kept(best),
        serverCpu: best.cpu.server ?? NaN,
        deliveriesPerServerCore: Math.round(kept(best) / (best.cpu.server || NaN)),
        p99: (best.lastDelivery ?? best.latency).p99,
      }
    : null;
}

/** Integrity over the whole run: every accepted message of every step should have reached every receiver by now. */
async function finalIntegrity(ctx: RampContext, p: RampParams): Promise<{ missing: number; extra: number; notAccepted: number }> {
  await ctx.fleet.repair();
  await waitFor(() => ctx.rec.integrity().missing === 0, p.finalWaitMs, 'the last deliveries').catch(() => {});
  const { missing, notAccepted } = ctx.rec.integrity();
  const extra = ctx.rec.extra;
  if (missing || extra || notAccepted)
    ctx.log(
      `${ctx.label}   at the end: ${missing} deliveries of accepted messages never arrived, ${extra} arrived more than once; ${notAccepted} sends never acknowledged`,
    );
  return { missing, extra, notAccepted };
}
