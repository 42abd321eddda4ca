import { credentials, Metadata, type Client, type ClientDuplexStream, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { AccountServiceClient, AccountServiceService } from '../../src/gen/chat/v1/account.js';
import { ChatServiceClient, ChatServiceService, type ClientFrame, type ServerFrame } from '../../src/gen/chat/v1/chat.js';
import { PresenceServiceClient } from '../../src/gen/chat/v1/presence.js';
import { DiscoveryServiceClient } from '../../src/gen/chat/v1/discovery.js';
import { SafetyServiceClient, SafetyServiceService } from '../../src/gen/chat/v1/safety.js';
import type { ChannelCursor } from '../../src/gen/chat/v1/common.js';

/** A unary method of a generated service definition (e.g. ChatServiceService.sendMessage). */
interface UnaryDef<Req, Res> {
  path: string;
  requestSerialize: (v: Req) => Buffer;
  responseDeserialize: (b: Buffer) => Res;
}

/** Calls a unary RPC and returns a promise of its typed response. */
export function rpc<Req, Res>(client: Client, def: UnaryDef<Req, Res>, req: Req, md = new Metadata()): Promise<Res> {
  return new Promise((resolve, reject) =>
    // Every test call has a deadline: a server that never answers fails the test instead of hanging it.
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, md, { deadline: Date.now() + 20_000 }, (e, r) =>
      e ? reject(e) : resolve(r!),
    ),
  );
}

/** Typed clients for one address, sharing one channel per client object. */
export class Api {
  readonly accounts: AccountServiceClient;
  readonly chat: ChatServiceClient;
  readonly presence: PresenceServiceClient;
  readonly discovery: DiscoveryServiceClient;
  readonly safety: SafetyServiceClient;

  constructor(
    readonly address: string,
    options: object = {},
  ) {
    const creds = credentials.createInsecure();
    this.accounts = new AccountServiceClient(address, creds, options);
    this.chat = new ChatServiceClient(address, creds, options);
    this.presence = new PresenceServiceClient(address, creds, options);
    this.discovery = new DiscoveryServiceClient(address, creds, options);
    this.safety = new SafetyServiceClient(address, creds, options);
  }

  close() {
    this.accounts.close();
    this.chat.close();
    this.presence.close();
    this.discovery.close();
    this.safety.close();
  }
}

export const C = ChatServiceService;
export const A = AccountServiceService;
export const S = SafetyServiceService;

export function bearer(token: string) {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/** A logged-in device: unary helpers plus stream openers. */
export class Device {
  constructor(
    readonly api: Api,
    readonly userId: string,
    readonly userName: string,
    readonly deviceId: string,
    readonly token: string,
  ) {}

  md() {
    return bearer(this.token);
  }

  /** Any ChatService unary call as this device. */
  chat<Req, Res>(def: UnaryDef<Req, Res>, req: Req) {
    return rpc(this.api.chat, def, req, this.md());
  }

  /** Any SafetyService unary call as this device. */
  safety<Req, Res>(def: UnaryDef<Req, Res>, req: Req) {
    return rpc(this.api.safety, def, req, this.md());
  }

  send(channelId: string, body: string, clientMsgId = randomUUID()) {
    return this.chat(C.sendMessage, { channelId, clientMsgId, body });
  }

  openDirect(peer: string) {
    return this.chat(C.openDirect, { peer });
  }

  createGroup(title: string, members: string[]) {
    return this.chat(C.createGroup, { title, members });
  }

  history(channelId: string, beforeId = 0, limit = 0) {
    return this.chat(C.listHistory, { channelId, beforeId, limit });
  }

  /** The whole history of a channel, oldest first, read page by page. */
  async allHistory(channelId: string) {
    const all = [];
    for (let before = 0; ; ) {
      const page = await this.history(channelId, before, 200);
      all.push(...page.messages);
      if (!page.nextBeforeId) break;
      before = page.nextBeforeId;
    }
    return all.reverse();
  }

  connect(cursors: ChannelCursor[] = []): DeviceStream {
    const s = this.api.chat.connect(this.md());
    s.write({ frame: { $case: 'resume', resume: { cursors } } });
    return new DeviceStream(s);
  }

  subscribe(cursors: ChannelCursor[] = []): DeviceStream {
    return new DeviceStream(this.api.chat.subscribe({ cursors }, this.md()));
  }
}

export async function registerAndLogin(api: Api, userName: string, deviceIds: string[] = ['d1'], password = 'correct horse battery') {
  const { userId } = await rpc(api.accounts, A.register, { userName, password });
  const devices: Device[] = [];
  for (const deviceId of deviceIds) {
    const r = await rpc(api.accounts, A.login, { userName, password, deviceId });
    devices.push(new Device(api, userId, userName, r.deviceId, r.accessToken));
  }
  return devices;
}

export async function login(api: Api, userName: string, deviceId: string, password = 'correct horse battery') {
  const r = await rpc(api.accounts, A.login, { userName, password, deviceId });
  return new Device(api, r.userId, userName, r.deviceId, r.accessToken);
}

type Frame = NonNullable<ServerFrame['frame']>;

/**
 * Collects a stream's frames and lets a test wait for the ones it expects,
 * with a deadline so that a missing frame fails the test instead of hanging.
 */
export class DeviceStream {
  readonly frames: Frame[] = [];
  error?: ServiceError;
  ended = false;
  private waiters: Array<() => void> = [];

  constructor(
    readonly stream: ClientDuplexStream<ClientFrame, ServerFrame> | ClientReadableStream<ServerFrame>,
    autoRead = true,
  ) {
    if (autoRead) this.read();
    stream.on('error', (e: ServiceError) => {
      this.error = e;
      this.notify();
    });
    stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
  }

  read() {
    this.stream.on('data', (f: ServerFrame) => {
      // ServerFrames are unwrapped; other stream messages (PresenceEvent) are kept whole.
      this.frames.push(f.frame ?? (f as unknown as Frame));
      this.notify();
    });
  }

  write(frame: ClientFrame['frame']) {
    (this.stream as ClientDuplexStream<ClientFrame, ServerFrame>).write({ frame });
  }

  messages(channelId?: string) {
    return this.frames
      .filter((f): f is Extract<Frame, { $case: 'message' }> => f.$case === 'message')
      .map((f) => f.message)
      .filter((m) => !channelId || m.channelId === channelId);
  }

  of<C extends Frame['$case']>(c: C) {
    return this.frames.filter((f): f is Extract<Frame, { $case: C }> => f.$case === c);
  }

  /** Resolves once `pred` holds, rejects after `ms`. */
  async until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (this.error && !what.includes('error')) throw new Error(`stream failed while waiting for ${what}: ${this.error.code} ${this.error.details}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; have ${this.frames.length} frames: ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  caughtUp(ms?: number) {
    return this.until(() => this.frames.some((f) => f.$case === 'caughtUp'), 'caught_up', ms);
  }

  close() {
    this.stream.cancel();
  }

  private notify() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
}
