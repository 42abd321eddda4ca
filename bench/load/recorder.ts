import { nowMicros, parsed } from '../lib/body.js';
import { Samples } from '../lib/stats.js';

/**
 * Counts sends and deliveries per tag and keeps the latency samples of the
 * step being measured. A tag is stamped into each body at send time (two per
 * step: warm-up and measured), so a late delivery is always charged to the
 * step that sent it. With fan-out (groups) it also records the latency of the
 * last delivery of each message.
 */
export class Recorder {
  readonly sent: number[] = [];
  readonly delivered: number[] = [];
  measTag = -1;
  lat = new Samples();
  last = new Samples();
  /** Receive times (µs) of every delivery of this step's tags, for counting deliveries in a window afterwards. */
  private recv = new Float64Array(1 << 16);
  private nRecv = 0;
  private winLo = -1;
  /** Per message (by seq): deliveries still expected, and whether the server acknowledged the send. */
  private remaining = new Uint8Array(1 << 16);
  private acked = new Uint8Array(1 << 16);
  /** Deliveries beyond what a message should produce (duplicates). */
  extra = 0;
  seq = 1;
  /** True when the target acknowledges sends (the project): only acknowledged messages must arrive. */
  tracksAcks = false;

  /** Deliveries each message should produce (receivers other than the sender). */
  constructor(readonly fanout: number) {}

  /** Starts a step: tags >= lowTag count in the window, `measTag` gets latency samples. */
  beginStep(lowTag: number, measTag: number) {
    this.winLo = lowTag;
    this.measTag = measTag;
    this.lat = new Samples();
    this.last = new Samples();
    this.nRecv = 0;
    this.sent[lowTag] ??= 0;
    this.sent[measTag] ??= 0;
    this.delivered[lowTag] ??= 0;
    this.delivered[measTag] ??= 0;
  }

  /** Deliveries of this step's messages received in [from, to] (µs). */
  receivedBetween(from: number, to: number): number {
    let n = 0;
    for (let i = 0; i < this.nRecv; i++) {
      const t = this.recv[i]!;
      if (t >= from && t <= to) n++;
    }
    return n;
  }

  /** Registers a send; returns the message's sequence number. */
  onSend(tag: number): number {
    const s = this.seq++;
    this.sent[tag] = (this.sent[tag] ?? 0) + 1;
    if (s >= this.remaining.length) {
      const r = new Uint8Array(this.remaining.length * 2);
      r.set(this.remaining);
      this.remaining = r;
      const a = new Uint8Array(this.acked.length * 2);
      a.set(this.acked);
      this.acked = a;
    }
    this.remaining[s] = this.fanout;
    return s;
  }

  /** A send that did not go out (dead stream): take it back. */
  unsend(tag: number, seq: number) {
    this.sent[tag]!--;
    this.remaining[seq] = 0;
  }

  /** The server acknowledged (stored) message `seq`. */
  onAck(seq: number) {
    if (seq < this.acked.length) this.acked[seq] = 1;
  }

  /**
   * Over every message sent so far: deliveries still missing for messages the
   * server accepted (all messages when the target does not acknowledge), and
   * messages it never acknowledged (their stream was closed before the server
   * took them: a real client resends them).
   */
  integrity(): { missing: number; notAccepted: number } {
    let missing = 0;
    let notAccepted = 0;
    for (let s = 1; s < this.seq; s++) {
      if (!this.tracksAcks || this.acked[s]) missing += this.remaining[s]!;
      else if (this.remaining[s]! > 0 || this.fanout === 0) notAccepted++;
    }
    return { missing, notAccepted };
  }

  /** One delivery of the message described by `parsed` (bench/lib/body.ts). */
  deliver() {
    const now = nowMicros();
    const tag = parsed.tag;
    this.delivered[tag] = (this.delivered[tag] ?? 0) + 1;
    if (tag >= this.winLo) {
      if (this.nRecv === this.recv.length) {
        const r = new Float64Array(this.recv.length * 2);
        r.set(this.recv);
        this.recv = r;
      }
      this.recv[this.nRecv++] = now;
    }
    const ms = (now - parsed.micros) / 1000;
    if (tag === this.measTag) this.lat.push(ms);
    if (parsed.seq < this.remaining.length) {
      const r = this.remaining[parsed.seq]!;
      if (r > 0) {
        this.remaining[parsed.seq] = r - 1;
        if (r === 1 && this.fanout > 1 && tag === this.measTag) this.last.push(ms);
      } else this.extra++;
    }
  }

  /** Deliveries still missing for the given tags. */
  outstanding(...tags: number[]): number {
    let n = 0;
    for (const t of tags) n += (this.sent[t] ?? 0) * this.fanout - (this.delivered[t] ?? 0);
    return n;
  }
}
