/**
 * Message bodies carry what the receiver needs to measure the message:
 * `<tag>.<sender>.<seq>.<sentAtMicros>.` padded with 'x' to a fixed size.
 * The send time is wall-clock microseconds with sub-millisecond precision
 * (performance.timeOrigin + performance.now()); the sender and the receivers
 * live in the same load-generator process, so the clocks are the same.
 */

/** Wall-clock milliseconds with sub-millisecond precision. */
export const nowMs = () => performance.timeOrigin + performance.now();
export const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

const pads = new Map<number, string>();

export function makeBody(size: number, tag: number, sender: number, seq: number, micros: number): string {
  const head = `${tag}.${sender}.${seq}.${micros}.`;
  const n = size - head.length;
  if (n < 0) throw new Error(`body of ${size} bytes is too small for ${head}`);
  let pad = pads.get(n);
  if (pad === undefined) pads.set(n, (pad = 'x'.repeat(n)));
  return head + pad;
}

const vals = [0, 0, 0, 0];

/** The last parsed body (module state: no allocation per message). */
export const parsed = { tag: 0, sender: 0, seq: 0, micros: 0 };

/** Parses the header of a body that starts at `start` in `buf`; false if it is not one of ours. */
export function parseBodyBuf(buf: Buffer, start: number, end: number): boolean {
  let p = start;
  for (let i = 0; i < 4; i++) {
    let v = 0;
    let digits = 0;
    while (p < end) {
      const c = buf[p++]!;
      if (c === 0x2e) break;
      if (c < 0x30 || c > 0x39) return false;
      v = v * 10 + (c - 0x30);
      digits++;
    }
    if (!digits) return false;
    vals[i] = v;
  }
  parsed.tag = vals[0]!;
  parsed.sender = vals[1]!;
  parsed.seq = vals[2]!;
  parsed.micros = vals[3]!;
  return true;
}

export function parseBodyStr(s: string): boolean {
  let p = 0;
  for (let i = 0; i < 4; i++) {
    let v = 0;
    let digits = 0;
    while (p < s.length) {
      const c = s.charCodeAt(p++);
      if (c === 0x2e) break;
      if (c < 0x30 || c > 0x39) return false;
      v = v * 10 + (c - 0x30);
      digits++;
    }
    if (!digits) return false;
    vals[i] = v;
  }
  parsed.tag = vals[0]!;
  parsed.sender = vals[1]!;
  parsed.seq = vals[2]!;
  parsed.micros = vals[3]!;
  return true;
}
