import { credentials, Metadata, type ChannelOptions, type Client, type ClientDuplexStream, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { AccountServiceClient, AccountServiceService } from '../../src/gen/chat/v1/account.js';
import { ChatServiceClient, ChatServiceService, type ClientFrame, type ServerFrame } from '../../src/gen/chat/v1/chat.js';
import { PresenceServiceClient } from '../../src/gen/chat/v1/presence.js';
import { DiscoveryServiceClient } from '../../src/gen/chat/v1/discovery.js';
import { SafetyServiceClient, SafetyServiceService } from '../../src/gen/chat/v1/safety.js';
import type { ChannelCursor } from '../../src/gen/chat/v1/common.js';
import { ChatClient, type MethodDef } from '../../src/client/index.js';

/** Deadline of every test call: a server that never answers fails the test instead of hanging it. */
const DEADLINE_MS = 20_000;

/** The Api each raw generated client belongs to (rpc calls through that Api's SDK client). */
const owners = new WeakMap<Client, Api>();

/**
 * Calls a unary RPC of the node behind `client` (one of an Api's generated
 * clients) with exactly the metadata given, forged or missing tokens included:
 * through the SDK's anonymous client, which adds no token and never refreshes.
 */
export function rpc<Req, Res>(client: Client, def: MethodDef<Req, Res>, req: Req, md = new Metadata()): Promise<Res> {
  const api = owners.get(client);
  if (!api) throw new Error("rpc: the client must be one of an Api's clients");
  return api.sdk.call(def, req, { metadata: md });
}

/**
 * One node's address: SDK clients (ChatClient, see `client()` and `sdk`) for
 * devices and accounts, plus raw generated clients for tests that send their
 * own metadata, cancel calls or drive streams frame by frame.
 */
export class Api {
  readonly accounts: AccountServiceClient;
  readonly chat: ChatServiceClient;
  readonly presence: PresenceServiceClient;
  readonly discovery: DiscoveryServiceClient;
  readonly safety: SafetyServiceClient;
  private readonly clients: ChatClient[] = [];
  private anonymous?: ChatClient;

  constructor(
    readonly address: string,
    readonly options: ChannelOptions = {},
  ) {
    const creds = credentials.createInsecure();
    this.accounts = new AccountServiceClient(address, creds, options);
    this.chat = new ChatServiceClient(address, creds, options);
    this.presence = new PresenceServiceClient(address, creds, options);
    this.discovery = new DiscoveryServiceClient(address, creds, options);
    this.safety = new SafetyServiceClient(address, creds, options);
    for (const c of [this.accounts, this.chat, this.presence, this.discovery, this.safety]) owners.set(c, this);
  }

  /** A new SDK client of this node presenting `credential` (a fixed bearer token; none: anonymous), closed with the Api. */
  client(credential?: string): ChatClient {
    const c = new ChatClient(this.address, { credential, deadlineMs: DEADLINE_MS, channelOptions: this.options });
    this.clients.push(c);
    return c;
  }

  /** A shared anonymous SDK client (Register, Login, PickServer). */
  get sdk(): ChatClient {
    this.anonymous ??= this.client();
    return this.anonymous;
  }

  close() {
    for (const c of this.clients) c.close();
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

/**
 * A logged-in device: an SDK client presenting its access token (fixed, never
 * refreshed behind the test's back), unary helpers and raw stream openers.
 */
export class Device {
  readonly client: ChatClient;

  constructor(
    readonly api: Api,
    readonly userId: string,
    readonly userName: string,
    readonly deviceId: string,
    readonly token: string,
  ) {
    this.client = api.client(token);
  }

  md() {
    return bearer(this.token);
  }

  /** Any ChatService unary call as this device, by its generated definition (e.g. `C.sendMessage`). */
  chat<Req, Res>(def: MethodDef<Req, Res>, req: Req) {
    return this.client.call(def, req);
  }

  /** Any SafetyService unary call as this device. */
  safety<Req, Res>(def: MethodDef<Req, Res>, req: Req) {
    return this.client.call(def, req);
  }

  send(channelId: string, body: string, clientMsgId = randomUUID()) {
    return this.client.chat.sendMessage({ channelId, clientMsgId, body });
  }

  openDirect(peer: string) {
    return this.client.chat.openDirect({ peer });
  }

  createGroup(title: string, members: string[]) {
    return this.client.chat.createGroup({ title, members });
  }

  history(channelId: string, beforeId = 0, limit = 0) {
    return this.client.chat.listHistory({ channelId, beforeId, limit });
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
    const s = this.client.connectWith(this.md());
    s.write({ frame: { $case: 'resume', resume: { cursors } } });
    return new DeviceStream(s);
  }

  subscribe(cursors: ChannelCursor[] = []): DeviceStream {
    return new DeviceStream(this.client.subscribeWith({ cursors }, this.md()));
  }

  /** A WatchPresence stream of `userIds` (its PresenceEvents are kept whole in `frames`). */
  watchPresence(userIds: string[]): DeviceStream {
    return new DeviceStream(this.client.watchPresenceWith({ userIds }, this.md()) as never);
  }
}

export async function registerAndLogin(api: Api, userName: string, deviceIds: string[] = ['d1'], password = 'correct horse battery') {
  const { userId } = await api.sdk.accounts.register({ userName, password });
  const devices: Device[] = [];
  for (const deviceId of deviceIds) {
    const r = await api.sdk.accounts.login({ userName, password, deviceId });
    devices.push(new Device(api, userId, userName, r.deviceId, r.accessToken));
  }
  return devices;
}

export async function login(api: Api, userName: string, deviceId: string, password = 'correct horse battery') {
  const r = await api.sdk.accounts.login({ userName, password, deviceId });
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
