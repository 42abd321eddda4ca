import { readFileSync } from 'node:fs';

/** Self time per function (summed by function name + script URL) from a V8 .cpuprofile. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  function: string;
  url: string;
  line: number;
  selfMs: number;
  /** Share of the time the main thread was busy (idle excluded). */
  pctBusy: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  gcMs: number;
  busyMs: number;
  top: HotSpot[];
}

export function summarize(file: string, topN = 15, root = ''): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample: charge it to the previous sample's node.
    const dt = p.timeDeltas[i + 1] ?? 0;
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const sums = new Map<string, HotSpot>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  for (const [id, us] of self) {
    const cf = byId.get(id)!.callFrame;
    const fn = cf.functionName || '(anonymous)';
    total += us;
    if (fn === '(idle)') idle += us;
    if (fn === '(garbage collector)') gc += us;
    const url = cf.url.replace(/^file:\/\//, '').replace(root, '');
    const key = `${fn}\u0000${url}`;
    const h = sums.get(key) ?? { function: fn, url, line: cf.lineNumber + 1, selfMs: 0, pctBusy: 0 };
    h.selfMs += us / 1000;
    sums.set(key, h);
  }
  const busy = (total - idle) / 1000;
  const top = [...sums.values()]
    .filter((h) => h.function !== '(idle)')
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topN)
    .map((h) => ({ ...h, selfMs: Math.round(h.selfMs * 10) / 10, pctBusy: Math.round((h.selfMs / busy) * 1000) / 10 }));
  return { totalMs: Math.round(total / 1000), idleMs: Math.round(idle / 1000), gcMs: Math.round(gc / 1000), busyMs: Math.round(busy), top };
}

export function profileMarkdown(s: ProfileSummary, heading: string): string {
  const lines = [
    heading,
    '',
    `Main thread: ${s.totalMs} ms sampled, ${s.busyMs} ms busy (${Math.round((s.busyMs / s.totalMs) * 100)}%), of which GC ${s.gcMs} ms.`,
    '',
    '| # | self ms | % of busy | function | where |',
    '|---|---:|---:|---|---|',
    ...s.top.map((h, i) => `| ${i + 1} | ${h.selfMs} | ${h.pctBusy} | \`${h.function}\` | ${h.url ? `${h.url}:${h.line}` : ''} |`),
  ];
  return lines.join('\n') + '\n';
}
