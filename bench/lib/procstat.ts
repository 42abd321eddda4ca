import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Readers of /proc: CPU time and RSS of any local process (servers, Redis, Cassandra). */

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  /* 100 on every Linux we run on */
}

/** User + system CPU seconds used so far by a process (all its threads), or NaN if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // after "pid (comm) ": state=0 ... utime=11 stime=12
    return (Number(f[11]) + Number(f[12])) / clkTck;
  } catch {
    return NaN;
  }
}

/** Resident set size in bytes, or NaN if the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Pids whose command line contains `needle` (e.g. the Cassandra daemon class, the Redis server). */
export function findPids(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(needle)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Busy CPU seconds of the whole machine (all cores, everything but idle and iowait). */
export function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return (total - f[3]! - f[4]!) / clkTck;
  } catch {
    return NaN;
  }
}

/**
 * CPU meter over a set of processes: call start(), then read() for the cores
 * used by each since (1.0 = one full core), plus `other`: what the rest of the
 * machine used meanwhile (another test run, a build...), to tell a noisy step.
 */
export class CpuMeter {
  private t0 = 0;
  private c0: number[] = [];
  private m0 = 0;
  constructor(readonly pids: Record<string, number>) {}

  start() {
    this.t0 = performance.now();
    this.c0 = Object.values(this.pids).map(cpuSeconds);
    this.m0 = machineBusySeconds();
  }

  read(): Record<string, number> {
    const dt = (performance.now() - this.t0) / 1000;
    const out: Record<string, number> = {};
    let ours = 0;
    Object.keys(this.pids).forEach((name, i) => {
      const used = (cpuSeconds(this.pids[name]!) - this.c0[i]!) / dt;
      ours += used;
      out[name] = Math.round(used * 100) / 100;
    });
    const other = (machineBusySeconds() - this.m0) / dt - ours;
    if (Number.isFinite(other)) out.other = Math.max(0, Math.round(other * 100) / 100);
    return out;
  }
}
