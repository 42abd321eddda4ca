import { Client, credentials, Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { ChatClient } from '../../src/client/index.js';
import { ClientFrame } from '../../src/gen/chat/v1/chat.js';
import { makeBody, parseBodyBuf, parsed } from '../lib/body.js';
import { msg, msgIdSeq, MsgIds, readAckId, readAckMessageId, readServerFrame, SendFrameEncoder } from '../lib/pb.js';
import { pool, waitFor, type Fleet, type FleetOptions } from './fleet.js';
import type { Recorder } from './recorder.js';

/**
 * The project's real API, as a native app uses it: Register and Login per
 * device, OpenDirect / CreateGroup, then a Connect stream per device that
 * starts with a `resume` frame and sends `send` frames with a client_msg_id.
 */

const CONNECT = '/chat.v1.ChatService/Connect';
const raw = (b: Buffer) => b;

export const bearer = (token: string) => {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
};

/** One grpc-js channel per connection: a local subchannel pool keeps them from sharing one HTTP/2 connection. */
export function connections(address: string, n: number): Client[] {
  return Array.from(
    { length: n },
    (_, i) =>
      new Client(address, credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': -1,
        'grpc.keepalive_time_ms': 60_000,
        // The generator's own cost: no retry buffer per message (the server sees the same frames).
        'grpc.enable_retries': 0,
        'bench.connection': i,
      }),
  );
}

export const PASSWORD = 'bench password 0123';
/** User names are <prefix><number>: unique per run, 3-32 characters. */
export const userPrefix = (runId: string) => `b${runId}u`;

export interface ProjectDevice {
  index: number;
  user: number;
  userId: string;
  token: string;
  md: Metadata;
  channelId: string;
  /** Highest message id seen on the device's channel. */
  lastId: number;
  stream?: ClientDuplexStream<Buffer, Buffer>;
  alive: boolean;
  caughtUp: boolean;
}

export interface Topology {
  users: number;
  devicesPerUser: number;
  /** Users per channel: 2 = a direct channel (OpenDirect), more = a group (CreateGroup). */
  usersPerChannel: number;
}

/** The SDK client the bench's setup uses (registration, logins, channels); the hot loop keeps its raw frames. */
export const setupClient = (address: string) => new ChatClient(address, { deadlineMs: 30_000, channelOptions: { 'grpc.use_local_subchannel_pool': 1 } });

/** Registers users, logs their devices in and creates their channels through the public API (the SDK). */
export async function setupProject(address: string, t: Topology, runId: string, log: (s: string) => void): Promise<ProjectDevice[]> {
  const api = setupClient(address);
  const password = PASSWORD;
  const prefix = userPrefix(runId);
  const userIds: string[] = [];
  const started = Date.now();
  await pool(t.users, 32, async (u) => {
    userIds[u] = (await api.accounts.register({ userName: prefix + u, password })).userId;
  });
  const devices: ProjectDevice[] = [];
  await pool(t.users * t.devicesPerUser, 32, async (i) => {
    const user = Math.floor(i / t.devicesPerUser);
    const r = await api.accounts.login({ userName: prefix + user, password, deviceId: `d${i % t.devicesPerUser}` });
    devices[i] = { index: i, user, userId: r.userId, token: r.accessToken, md: bearer(r.accessToken), channelId: '', lastId: 0, alive: false, caughtUp: false };
  });
  const channelOf: string[] = [];
  const blocks = Math.ceil(t.users / t.usersPerChannel);
  await pool(blocks, 16, async (b) => {
    const first = b * t.usersPerChannel;
    const members = Array.from({ length: Math.min(t.usersPerChannel, t.users - first) }, (_, k) => first + k);
    const owner = devices[first * t.devicesPerUser]!;
    const ch =
      t.usersPerChannel === 2
        ? (await api.chat.openDirect({ peer: prefix + members[1]! }, { metadata: owner.md })).channel
        : (await api.chat.createGroup({ title: `bench ${b}`, members: members.slice(1).map((u) => prefix + u) }, { metadata: owner.md })).channel;
    for (const u of members) channelOf[u] = ch!.channelId;
  });
  for (const d of devices) d.channelId = channelOf[d.user]!;
  api.close();
  log(`  set up ${t.users} users, ${devices.length} devices, ${blocks} channels in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return devices;
}

export const resumeFrame = (cursors: { channelId: string; lastMessageId: number }[]) =>
  Buffer.from(ClientFrame.encode({ frame: { $case: 'resume', resume: { cursors } } }).finish());

/** Opens a Connect stream for a device and sends its resume frame. */
export function openStream(
  client: Client,
  d: ProjectDevice,
  onFrame: (d: ProjectDevice, buf: Buffer) => void,
  onDown: (d: ProjectDevice, e?: ServiceError) => void,
  cursors: { channelId: string; lastMessageId: number }[] = [],
) {
  const s = client.makeBidiStreamRequest(CONNECT, raw, raw, d.md);
  d.stream = s;
  d.alive = true;
  d.caughtUp = false;
  s.on('data', (buf: Buffer) => onFrame(d, buf));
  s.on('error', (e: ServiceError) => {
    if (d.stream === s) {
      d.alive = false;
      onDown(d, e);
    }
  });
  s.on('end', () => {
    if (d.stream === s && d.alive) {
      d.alive = false;
      onDown(d);
    }
  });
  s.write(resumeFrame(cursors));
}

/** Project devices in channels, driven by the ramp. */
export class ProjectFleet implements Fleet {
  readonly name = 'project';
  private readonly stats: Record<string, number> = { sendErrors: 0, frameErrors: 0, reconnectHints: 0, streamsLost: 0, reopened: 0 };
  private readonly encoders: SendFrameEncoder[];
  private readonly ids = new MsgIds(randomUUID());

  private constructor(
    private readonly o: FleetOptions,
    private readonly clients: Client[],
    private readonly devs: ProjectDevice[],
    private readonly rec: Recorder,
  ) {
    rec.tracksAcks = true;
    const byChannel = new Map<string, SendFrameEncoder>();
    this.encoders = devs.map((d) => {
      let e = byChannel.get(d.channelId);
      if (!e) byChannel.set(d.channelId, (e = new SendFrameEncoder(d.channelId, o.bodyBytes)));
      return e;
    });
  }

  get devices() {
    return this.devs.length;
  }
  get blockSize() {
    return this.o.blockSize;
  }

  static async create(o: FleetOptions): Promise<ProjectFleet> {
    const devs = await setupProject(o.address, { users: o.devices, devicesPerUser: 1, usersPerChannel: o.blockSize }, o.runId, o.log);
    const f = new ProjectFleet(o, connections(o.address, o.connections), devs, o.recorder);
    for (const d of devs) f.open(d);
    await waitFor(() => devs.every((d) => d.caughtUp), 60_000, 'every device to be caught up');
    return f;
  }

  private open(d: ProjectDevice, cursors: { channelId: string; lastMessageId: number }[] = []) {
    openStream(
      this.clients[d.index % this.clients.length]!,
      d,
      (dev, buf) => this.onFrame(dev, buf),
      () => this.stats.streamsLost!++,
      cursors,
    );
  }

  private onFrame(d: ProjectDevice, buf: Buffer) {
    switch (readServerFrame(buf)) {
      case 1:
        if (msg.id > d.lastId) d.lastId = msg.id;
        if (msg.bodyStart >= 0 && parseBodyBuf(buf, msg.bodyStart, msg.bodyEnd) && parsed.sender !== d.index) this.rec.deliver();
        return;
      case 2: {
        const at = readAckId(buf);
        if (at >= 0) {
          this.rec.onAck(msgIdSeq(buf, at));
          // The stream's own sends come back as acks, in order: they move its cursor too.
          const id = readAckMessageId(buf, at);
          if (id > d.lastId) d.lastId = id;
        }
        return;
      }
      case 7:
        d.caughtUp = true;
        return;
      case 3:
        this.stats.sendErrors!++;
        return;
      case 10:
        this.stats.frameErrors!++;
        return;
      case 8:
        this.stats.reconnectHints!++;
        return;
    }
  }

  send(from: number, tag: number, seq: number, micros: number): boolean {
    const d = this.devs[from]!;
    if (!d.alive) return false;
    d.stream!.write(this.encoders[from]!.encode(this.ids.make(tag, seq), makeBody(this.o.bodyBytes, tag, from, seq, micros)));
    return true;
  }

  async repair(): Promise<number> {
    const dead = this.devs.filter((d) => !d.alive);
    for (const d of dead) {
      d.stream?.cancel();
      this.open(d, [{ channelId: d.channelId, lastMessageId: d.lastId }]);
      this.stats.reopened!++;
    }
    if (dead.length) await waitFor(() => dead.every((d) => d.caughtUp || !d.alive), 30_000, 'reopened streams to catch up').catch(() => {});
    return dead.length;
  }

  counters() {
    return { ...this.stats };
  }

  async close() {
    for (const d of this.devs) d.stream?.cancel();
    for (const c of this.clients) c.close();
  }
}
