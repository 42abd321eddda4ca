/** Latency samples of one step, with exact percentiles (sorted once at the end). */
export class Samples {
  private a = new Float64Array(4096);
  n = 0;

  push(v: number) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }

  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
    const s = this.a.slice(0, this.n).sort();
    const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
    let sum = 0;
    for (let i = 0; i < s.length; i++) sum += s[i]!;
    return { count: this.n, p50: r3(q(0.5)), p95: r3(q(0.95)), p99: r3(q(0.99)), max: r3(s[s.length - 1]!), mean: r3(sum / s.length) };
  }
}

/** Milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export const r3 = (v: number) => Math.round(v * 1000) / 1000;
export const r1 = (v: number) => Math.round(v * 10) / 10;
