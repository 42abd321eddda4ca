import { randomUUID } from 'node:crypto';
import type { ServiceError } from '@grpc/grpc-js';
import { DiscoveryServiceService as D } from '../../src/gen/chat/v1/discovery.js';
import { Api, Device, rpc, type DeviceStream } from '../support/client.js';

/**
 * A test device that behaves like a real client across node failures: it
 * keeps a cursor per channel (the highest id received), reconnects through
 * PickServer when its stream dies, resumes from its cursors and resends
 * unacknowledged messages with their original client_msg_id.
 */
export class SimDevice {
  readonly received = new Map<string, number[]>();
  readonly acked = new Map<string, { channelId: string; id: number }>();
  readonly pending = new Map<string, { channelId: string; body: string }>();
  reconnects = 0;
  moved = 0;
  private recovering = false;
  private stream?: DeviceStream;
  private dev: Device;
  private readonly seen = new WeakMap<DeviceStream, number>();
  private stopped = false;

  constructor(
    base: Device,
    private address: string,
    private readonly seeds: () => string[],
  ) {
    this.dev = this.on(address, base);
  }

  get label() {
    return `${this.dev.userName}/${this.dev.deviceId}`;
  }

  get node() {
    return this.address;
  }

  private on(address: string, d: Device) {
    return new Device(new Api(address), d.userId, d.userName, d.deviceId, d.token);
  }

  async connect() {
    const cursors = [...this.received].map(([channelId, ids]) => ({ channelId, lastMessageId: ids.at(-1) ?? 0 }));
    const s = this.dev.connect(cursors);
    this.stream = s;
    const pump = setInterval(() => this.drain(s), 5);
    s.stream.on('close', () => clearInterval(pump));
    s.stream.on('error', (e: ServiceError) => {
      clearInterval(pump);
      this.drain(s);
      if (!this.stopped && this.stream === s) void this.recover(e);
    });
    try {
      await s.caughtUp(20_000);
    } catch (e) {
      if (this.stream === s) this.stream = undefined;
      s.close();
      throw e;
    }
    for (const [clientMsgId, p] of this.pending) s.write({ $case: 'send', send: { clientMsgId, channelId: p.channelId, body: p.body } });
  }

  send(channelId: string, body: string) {
    const clientMsgId = randomUUID();
    this.pending.set(clientMsgId, { channelId, body });
    this.stream?.write({ $case: 'send', send: { clientMsgId, channelId, body } });
  }

  stop() {
    this.stopped = true;
    if (this.stream) this.drain(this.stream);
    this.stream?.close();
    this.dev.api.close();
  }

  private async moveTo(address: string) {
    this.dev.api.close();
    this.dev = this.on(address, this.dev);
    this.address = address;
    await this.connect();
  }

  private drain(s: DeviceStream) {
    for (let i = this.seen.get(s) ?? 0; i < s.frames.length; i = this.seen.get(s) ?? 0) {
      this.seen.set(s, i + 1);
      const f = s.frames[i]!;
      if (f.$case === 'message') {
        const list = this.received.get(f.message.channelId) ?? [];
        list.push(f.message.id);
        this.received.set(f.message.channelId, list);
      } else if (f.$case === 'sendAck') {
        this.acked.set(f.sendAck.clientMsgId, { channelId: f.sendAck.channelId, id: f.sendAck.messageId });
        this.pending.delete(f.sendAck.clientMsgId);
        // A stream's own sends come back as their acks, in channel order: they are part of its log.
        // (The ack of a resend may name a message the stream already delivered: the cursor only moves forward.)
        const list = this.received.get(f.sendAck.channelId) ?? [];
        if (f.sendAck.messageId > (list.at(-1) ?? 0)) list.push(f.sendAck.messageId);
        this.received.set(f.sendAck.channelId, list);
      } else if (f.$case === 'reconnect') {
        // The node is draining: move to the node it names (or ask PickServer).
        this.moved++;
        const target = f.reconnect.server?.address;
        this.stream = undefined;
        s.close();
        setTimeout(() => void this.recover(undefined, target), 0);
        return;
      } else if (f.$case === 'sendError') {
        // Retryable (UNAVAILABLE: e.g. the claim of a send the dead node started is still held):
        // resend the same client_msg_id after a pause, as a real client would.
        const id = f.sendError.clientMsgId;
        const p = this.pending.get(id);
        if (p && f.sendError.code === 14) {
          setTimeout(() => {
            if (this.pending.has(id) && this.stream === s) s.write({ $case: 'send', send: { clientMsgId: id, channelId: p.channelId, body: p.body } });
          }, 500);
        }
      }
    }
  }

  /** Reconnects to `target`, or to a live node found through PickServer (asked to any node that answers). */
  private async recover(_e?: ServiceError, target?: string) {
    // One recovery at a time: a failed attempt's stream errors too, and must not start a second one.
    if (this.recovering) return;
    this.recovering = true;
    try {
      await this.reconnect(target);
    } finally {
      this.recovering = false;
    }
  }

  private async reconnect(target?: string) {
    this.reconnects++;
    if (target) {
      try {
        return await this.moveTo(target);
      } catch {
        /* fall back to PickServer */
      }
    }
    for (let attempt = 0; attempt < 60 && !this.stopped; attempt++) {
      await new Promise((r) => setTimeout(r, 250));
      for (const seed of this.seeds()) {
        const api = new Api(seed);
        try {
          const picked = await rpc(api.discovery, D.pickServer, { regionHint: '' });
          await this.moveTo(picked.server!.address);
          return;
        } catch {
          /* that node is gone, or the picked one was: try the next */
        } finally {
          api.close();
        }
      }
    }
  }
}
