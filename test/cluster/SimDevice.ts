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
  private stream?: DeviceStream;
  private dev: Device;
  private seen = 0;
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
    this.seen = 0;
    const pump = setInterval(() => this.drain(s), 5);
    s.stream.on('close', () => clearInterval(pump));
    s.stream.on('error', (e: ServiceError) => {
      clearInterval(pump);
      this.drain(s);
      if (!this.stopped) void this.recover(e);
    });
    await s.caughtUp(20_000);
    for (const [clientMsgId, p] of this.pending) s.write({ $case: 'send', send: { clientMsgId, channelId: p.channelId, body: p.body } });
  }

  send(channelId: string, body: string) {
    const clientMsgId = randomUUID();
    this.pending.set(clientMsgId, { channelId, body });
    this.stream?.write({ $case: 'send', send: { clientMsgId, channelId, body } });
  }

  stop() {
    this.stopped = true;
    this.drain(this.stream!);
    this.stream?.close();
    this.dev.api.close();
  }

  private drain(s: DeviceStream) {
    for (; this.seen < s.frames.length; this.seen++) {
      const f = s.frames[this.seen]!;
      if (f.$case === 'message') {
        const list = this.received.get(f.message.channelId) ?? [];
        list.push(f.message.id);
        this.received.set(f.message.channelId, list);
      } else if (f.$case === 'sendAck') {
        this.acked.set(f.sendAck.clientMsgId, { channelId: f.sendAck.channelId, id: f.sendAck.messageId });
        this.pending.delete(f.sendAck.clientMsgId);
      } else if (f.$case === 'sendError') {
        // UNAVAILABLE and friends: keep it pending, it is resent after the next reconnect.
      }
    }
  }

  /** Finds a live node through PickServer (asked to any node that answers) and reconnects. */
  private async recover(_e: ServiceError) {
    this.reconnects++;
    for (let attempt = 0; attempt < 60 && !this.stopped; attempt++) {
      await new Promise((r) => setTimeout(r, 250));
      for (const seed of this.seeds()) {
        const api = new Api(seed);
        try {
          const picked = await rpc(api.discovery, D.pickServer, { regionHint: '' });
          const address = picked.server!.address;
          this.dev.api.close();
          this.dev = this.on(address, this.dev);
          this.address = address;
          await this.connect();
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
