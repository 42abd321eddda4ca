import type { Client, ClientDuplexStream } from '@grpc/grpc-js';
import { makeBody, parseBodyBuf, parsed, nowMicros } from '../lib/body.js';
import { msg, readRelayAck, readRelayFrame, relayFrame, relayFrameSize, relayHello } from '../lib/pb.js';
import { waitFor, type Fleet, type FleetOptions } from './fleet.js';
import { connections } from './project.js';

const CONNECT = '/bench.Relay/Connect';
const raw = (b: Buffer) => b;

/** Payload length that makes a relay data frame exactly `frameBytes` long. */
export function payloadFor(target: number, frameBytes: number): number {
  let p = frameBytes - 4;
  while (p > 0 && relayFrameSize(target, p) > frameBytes) p--;
  return p;
}

/** Devices on the bare grpc-js relay (the ceiling), same connection layout as the project. */
export class RelayFleet implements Fleet {
  readonly name = 'relay';
  readonly streams: ClientDuplexStream<Buffer, Buffer>[] = [];
  private readonly alive: boolean[] = [];
  private readonly pinged: boolean[] = [];
  private readonly payload: number[] = [];
  private readonly stats = { streamsLost: 0 };
  /** Acks received (ack and durable relays); each names its message, as the project's send_ack does. */
  acks = 0;
  readonly clients: Client[];

  constructor(private readonly o: FleetOptions) {
    this.clients = connections(o.address, o.connections);
  }

  get devices() {
    return this.o.devices;
  }
  get blockSize() {
    return this.o.blockSize;
  }

  private group(d: number) {
    return Math.floor(d / this.o.blockSize);
  }
  private target(d: number) {
    return this.o.blockSize === 2 ? d ^ 1 : this.group(d);
  }

  /** Opens every stream, says hello, and waits until each stream has received a frame addressed to itself. */
  async open(): Promise<void> {
    for (let d = 0; d < this.o.devices; d++) {
      const s = this.clients[d % this.clients.length]!.makeBidiStreamRequest(CONNECT, raw, raw);
      this.streams[d] = s;
      this.alive[d] = true;
      this.payload[d] = payloadFor(this.target(d), this.o.frameBytes);
      s.on('data', (buf: Buffer) => this.onFrame(d, buf));
      s.on('error', () => {
        this.alive[d] = false;
        this.stats.streamsLost++;
      });
      s.write(relayHello(d, this.o.blockSize > 2 ? this.group(d) : undefined));
    }
    await this.ping();
  }

  /** Each stream sends one frame to itself; resolves once all arrived (the relay knows every stream). */
  async ping(): Promise<void> {
    for (let d = 0; d < this.o.devices; d++) this.streams[d]!.write(relayFrame(false, d, makeBody(64, 0, d, 0, nowMicros())));
    await waitFor(() => this.pinged.filter(Boolean).length === this.o.devices, 60_000, 'relay streams to answer');
  }

  private onFrame(d: number, buf: Buffer) {
    if (readRelayAck(buf)) {
      if (parseBodyBuf(buf, msg.bodyStart, msg.bodyEnd)) {
        this.acks++;
        this.o.recorder.onAck(parsed.seq);
      }
      return;
    }
    if (!readRelayFrame(buf) || !parseBodyBuf(buf, msg.bodyStart, msg.bodyEnd)) return;
    if (parsed.tag === 0) {
      this.pinged[d] = true;
      return;
    }
    if (parsed.sender !== d) this.o.recorder.deliver();
  }

  send(from: number, tag: number, seq: number, micros: number): boolean {
    if (!this.alive[from]) return false;
    this.streams[from]!.write(relayFrame(this.o.blockSize > 2, this.target(from), makeBody(this.payload[from]!, tag, from, seq, micros)));
    return true;
  }

  async repair() {
    return 0;
  }

  counters() {
    return { ...this.stats };
  }

  async close() {
    if (this.acks) this.o.log(`  ${this.acks} acks received`);
    for (const s of this.streams) s.cancel();
    for (const c of this.clients) c.close();
  }
}
