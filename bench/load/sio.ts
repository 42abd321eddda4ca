import { io, type Socket } from 'socket.io-client';
import { makeBody, nowMicros, parseBodyStr, parsed } from '../lib/body.js';
import { pool, waitFor, type Fleet, type FleetOptions } from './fleet.js';

/**
 * Devices on the socket.io relay: one WebSocket per device (how socket.io
 * clients connect), each joining its device room (and group room). The
 * payload is a string as long as the project's delivered frame. With
 * `acks` every emit carries an acknowledgement callback (socket.io with acks).
 */
export class SioFleet implements Fleet {
  readonly name = 'socket.io';
  private readonly sockets: Socket[] = [];
  private readonly pinged: boolean[] = [];
  private readonly stats = { disconnects: 0 };
  /** Acknowledgements received (socket.io with acks). */
  acks = 0;
  private readonly onAck = () => {
    this.acks++;
  };

  constructor(
    private readonly o: FleetOptions,
    private readonly withAcks = false,
  ) {}

  get devices() {
    return this.o.devices;
  }
  get blockSize() {
    return this.o.blockSize;
  }

  async open(): Promise<void> {
    const url = `http://${this.o.address}`;
    await pool(this.o.devices, 50, async (d) => {
      const group = this.o.blockSize > 2 ? Math.floor(d / this.o.blockSize) : undefined;
      const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: true, auth: { id: d, group } });
      this.sockets[d] = s;
      s.on('m', (payload: string) => this.onMessage(d, payload));
      s.on('disconnect', () => this.stats.disconnects++);
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('connect_error', (e) => reject(e));
      });
    });
    for (let d = 0; d < this.o.devices; d++) this.sockets[d]!.emit('m', d, makeBody(64, 0, d, 0, nowMicros()));
    await waitFor(() => this.pinged.filter(Boolean).length === this.o.devices, 60_000, 'socket.io sockets to answer');
  }

  private onMessage(d: number, payload: string) {
    if (!parseBodyStr(payload)) return;
    if (parsed.tag === 0) {
      this.pinged[d] = true;
      return;
    }
    if (parsed.sender !== d) this.o.recorder.deliver();
  }

  send(from: number, tag: number, seq: number, micros: number): boolean {
    const s = this.sockets[from]!;
    if (!s.connected) return false;
    const body = makeBody(this.o.frameBytes, tag, from, seq, micros);
    const to = this.o.blockSize === 2 ? from ^ 1 : Math.floor(from / this.o.blockSize);
    const ev = this.o.blockSize === 2 ? 'm' : 'g';
    if (this.withAcks) s.emit(ev, to, body, this.onAck);
    else s.emit(ev, to, body);
    return true;
  }

  async repair() {
    return 0;
  }

  counters() {
    return { ...this.stats };
  }

  async close() {
    if (this.withAcks) this.o.log(`  ${this.acks} acknowledgements received`);
    for (const s of this.sockets) s.disconnect();
  }
}
