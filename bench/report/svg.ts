/**
 * A hand-written chart against delivered messages/s (log scale), one line per
 * target, one point per step (ramp and refine steps, in order of offered
 * rate): p99 delivery latency (ms, log scale), or CPU seconds per 1,000
 * messages (log scale).
 */

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number; sustained: boolean }[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
  return out;
}

const label = (v: number) => (v >= 1000 ? `${v / 1000}k` : String(Number(v.toPrecision(3))));

export function chart(title: string, subtitle: string, series: Series[], yLabel = 'p99 delivery latency, ms (log)'): string {
  const W = 900;
  const H = 560;
  const L = 80;
  const R = 200;
  const T = 60;
  const B = 60;
  const pts = series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0 && Number.isFinite(p.y));
  if (pts.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="80"><text x="10" y="40">no data</text></svg>`;
  const xs = decades(Math.min(...pts.map((p) => p.x)), Math.max(...pts.map((p) => p.x)));
  const ys = decades(Math.min(...pts.map((p) => p.y)), Math.max(...pts.map((p) => p.y)));
  const [x0, x1] = [Math.log10(xs[0]!), Math.log10(xs[xs.length - 1]!)];
  const [y0, y1] = [Math.log10(ys[0]!), Math.log10(ys[ys.length - 1]!)];
  const px = (x: number) => L + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number) => H - B - ((Math.log10(y) - y0) / (y1 - y0 || 1)) * (H - T - B);
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="${L}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`);
  o.push(`<text x="${L}" y="44" fill="#555">${esc(subtitle)}</text>`);
  // grid: decades and 2x, 5x minor lines
  for (const d of xs) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (Math.log10(v) > x1 + 1e-9) continue;
      const x = px(v);
      o.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`);
      if (m !== 5 || xs.length <= 3) o.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle" fill="#333">${label(v)}</text>`);
    }
  }
  for (const d of ys) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (Math.log10(v) > y1 + 1e-9) continue;
      const y = py(v);
      o.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="${m === 1 ? '#ccc' : '#eee'}"/>`);
      o.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end" fill="#333">${label(v)}</text>`);
    }
  }
  o.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#888"/>`);
  o.push(`<text x="${(L + W - R) / 2}" y="${H - 18}" text-anchor="middle">delivered messages/s (log)</text>`);
  o.push(`<text transform="translate(20 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const p = s.points.filter((q) => q.x > 0 && q.y > 0 && Number.isFinite(q.y));
    if (p.length) {
      o.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${p.map((q) => `${px(q.x).toFixed(1)},${py(q.y).toFixed(1)}`).join(' ')}"/>`);
      for (const q of p) {
        const [cx, cy] = [px(q.x).toFixed(1), py(q.y).toFixed(1)];
        o.push(
          q.sustained
            ? `<circle cx="${cx}" cy="${cy}" r="4" fill="${s.color}"/>`
            : `<circle cx="${cx}" cy="${cy}" r="4" fill="white" stroke="${s.color}" stroke-width="2"/>`,
        );
      }
    }
    const ly = T + 10 + i * 22;
    o.push(`<line x1="${W - R + 16}" y1="${ly}" x2="${W - R + 40}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`);
    o.push(`<text x="${W - R + 46}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  const ly = T + 10 + series.length * 22 + 10;
  o.push(`<circle cx="${W - R + 28}" cy="${ly}" r="4" fill="#444"/><text x="${W - R + 46}" y="${ly + 4}">sustained step</text>`);
  o.push(
    `<circle cx="${W - R + 28}" cy="${ly + 20}" r="4" fill="white" stroke="#444" stroke-width="2"/><text x="${W - R + 46}" y="${ly + 24}">saturated step</text>`,
  );
  o.push('</svg>');
  return o.join('\n');
}
