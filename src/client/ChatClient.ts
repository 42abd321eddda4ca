import { Client, credentials, Metadata, status, type ChannelCredentials, type ClientOptions, type ServiceError } from '@grpc/grpc-js';
import { AccountServiceService, type LoginResponse } from '../gen/chat/v1/account.js';
import { ChatServiceService, type ClientFrame, type ServerFrame, type SubscribeRequest } from '../gen/chat/v1/chat.js';
import { SafetyServiceService } from '../gen/chat/v1/safety.js';
import { DiscoveryServiceService, type ServerAddress } from '../gen/chat/v1/discovery.js';
import { PresenceServiceService, type PresenceEvent, type WatchPresenceRequest } from '../gen/chat/v1/presence.js';
import { ChatSession, type SessionOptions } from './ChatSession.js';
import { isServiceError } from './errors.js';
import { TokenKeeper, type Tokens } from './Tokens.js';
import { unaryCalls, type CallOpts, type MethodDef } from './unary.js';

/** Calls that take no bearer token (anything sent would be ignored). */
const PUBLIC = new Set<string>([
  AccountServiceService.register.path,
  AccountServiceService.login.path,
  AccountServiceService.refreshSession.path,
  DiscoveryServiceService.pickServer.path,
]);

/** How a ChatClient reaches its node and authenticates. */
export interface ChatClientOptions {
  /** A fixed bearer credential: a backend service's `svc:<name>:<secret>`, or an access token. */
  credential?: string;
  /** Tokens kept from an earlier Login (refreshed when they near expiry). */
  tokens?: Tokens;
  /** Called with every new set of tokens (Login, RefreshSession), e.g. to save them. */
  onTokens?: (t: Tokens) => void;
  /** Supplies the bearer token before each call instead (e.g. a store shared by several processes). */
  tokenProvider?: () => Promise<string>;
  /** Deadline of unary calls, ms (default 15 s). */
  deadlineMs?: number;
  /** grpc-js channel options. */
  channelOptions?: Partial<ClientOptions>;
  /** Channel credentials (default: insecure, for loopback and a TLS-terminating proxy). */
  channelCredentials?: ChannelCredentials;
}

/**
 * A client of one chat node: typed unary calls for every RPC (`chat`,
 * `accounts`, `presence`, `discovery`, `safety`, generated from the service definitions),
 * login with automatic token refresh, PickServer, and `connect()`, a Connect
 * session that survives drops and drains.
 */
export class ChatClient {
  readonly accounts = unaryCalls(AccountServiceService, (d, r, o) => this.call(d, r, o));
  readonly chat = unaryCalls(ChatServiceService, (d, r, o) => this.call(d, r, o));
  readonly presence = unaryCalls(PresenceServiceService, (d, r, o) => this.call(d, r, o));
  readonly discovery = unaryCalls(DiscoveryServiceService, (d, r, o) => this.call(d, r, o));
  readonly safety = unaryCalls(SafetyServiceService, (d, r, o) => this.call(d, r, o));
  /** Who is logged in (after login or given tokens with `identity`). */
  userId = '';
  deviceId = '';
  private readonly keeper: TokenKeeper;
  private grpc!: Client;
  private current = '';

  constructor(
    address: string,
    private readonly opts: ChatClientOptions = {},
  ) {
    this.keeper = new TokenKeeper((refreshToken) => this.accounts.refreshSession({ refreshToken }), opts.onTokens);
    if (opts.tokens) this.keeper.set(opts.tokens);
    this.retarget(address);
  }

  /** A client for a backend service authenticating with `svc:<name>:<secret>`. */
  static service(address: string, credential: string, opts: ChatClientOptions = {}): ChatClient {
    return new ChatClient(address, { ...opts, credential });
  }

  /** The node this client talks to. */
  get address(): string {
    return this.current;
  }

  /** The tokens held (after login or refresh). */
  get tokens(): Tokens | undefined {
    return this.keeper.current;
  }

  /** Points the client at another node (after PickServer or a reconnect hint). */
  retarget(address: string) {
    if (address === this.current) return;
    this.grpc?.close();
    this.current = address;
    this.grpc = new Client(address, this.opts.channelCredentials ?? credentials.createInsecure(), this.opts.channelOptions);
  }

  /** Logs a device in; later calls carry its access token, refreshed as it nears expiry. */
  async login(userName: string, password: string, deviceId: string): Promise<LoginResponse> {
    const r = await this.accounts.login({ userName, password, deviceId });
    this.userId = r.userId;
    this.deviceId = r.deviceId;
    this.keeper.set(r);
    this.opts.onTokens?.(r);
    return r;
  }

  /** Exchanges the refresh token for new ones now (one exchange in flight at a time). */
  refresh(): Promise<Tokens> {
    return this.keeper.refresh();
  }

  /** The bearer token to send now ('' when none). */
  async token(): Promise<string> {
    if (this.opts.tokenProvider) return this.opts.tokenProvider();
    if (this.opts.credential) return this.opts.credential;
    return this.keeper.access();
  }

  /** Metadata with `authorization: Bearer <token>` (none without a token). */
  async metadata(extra?: Metadata): Promise<Metadata> {
    const md = extra?.clone() ?? new Metadata();
    const token = await this.token();
    if (token) md.set('authorization', `Bearer ${token}`);
    return md;
  }

  /** Asks this node where to connect (healthy, near, least loaded). */
  async pickServer(regionHint = ''): Promise<ServerAddress> {
    const r = await this.discovery.pickServer({ regionHint });
    if (!r.server?.address) throw Object.assign(new Error('PickServer returned no server'), { code: status.UNAVAILABLE, details: 'no server' });
    return r.server;
  }

  /** Opens a Connect session (see ChatSession): iterate it for events, `send` through it. */
  connect(opts: SessionOptions = {}): ChatSession {
    return new ChatSession(this, opts);
  }

  /** The raw bidi Connect stream, metadata included (ChatSession is built on it). */
  async openConnect(signal?: AbortSignal) {
    const s = this.connectWith(await this.metadata());
    signal?.addEventListener('abort', () => s.cancel(), { once: true });
    return s;
  }

  /** The raw Subscribe stream (server frames without client streaming, as browsers get them). */
  async openSubscribe(req: SubscribeRequest) {
    return this.subscribeWith(req, await this.metadata());
  }

  /** The raw WatchPresence stream. */
  async openWatchPresence(req: WatchPresenceRequest) {
    return this.watchPresenceWith(req, await this.metadata());
  }

  /** The raw Connect stream sent with exactly `md` (no token added): for tools and tests presenting their own credentials. */
  connectWith(md: Metadata) {
    const d = ChatServiceService.connect;
    return this.grpc.makeBidiStreamRequest<ClientFrame, ServerFrame>(d.path, d.requestSerialize, d.responseDeserialize, md);
  }

  /** The raw Subscribe stream sent with exactly `md` (no token added). */
  subscribeWith(req: SubscribeRequest, md: Metadata) {
    const d = ChatServiceService.subscribe;
    return this.grpc.makeServerStreamRequest<SubscribeRequest, ServerFrame>(d.path, d.requestSerialize, d.responseDeserialize, req, md);
  }

  /** The raw WatchPresence stream sent with exactly `md` (no token added). */
  watchPresenceWith(req: WatchPresenceRequest, md: Metadata) {
    const d = PresenceServiceService.watchPresence;
    return this.grpc.makeServerStreamRequest<WatchPresenceRequest, PresenceEvent>(d.path, d.requestSerialize, d.responseDeserialize, req, md);
  }

  /** Closes the channel to the node (open streams end with CANCELLED). */
  close() {
    this.grpc.close();
  }

  /** True when a failed call may be retried with a refreshed token. */
  get canRefresh(): boolean {
    return !this.opts.tokenProvider && !this.opts.credential && this.keeper.canRefresh;
  }

  /** Refreshes after the server refused `used` (expired early, clock skew); joins a refresh in flight. */
  refreshAfterRefusal(used: string): Promise<Tokens> {
    return this.keeper.refresh(used);
  }

  /**
   * Any unary call by its method definition, e.g. `call(ChatServiceService.sendMessage, req)`
   * (the typed calls are built on it): the token is added, refreshed once on UNAUTHENTICATED.
   */
  async call<Req, Res>(def: MethodDef<Req, Res>, request: Req, opts: CallOpts = {}): Promise<Res> {
    if (PUBLIC.has(def.path)) return this.once(def, request, opts, opts.metadata ?? new Metadata());
    const md = await this.metadata(opts.metadata);
    try {
      return await this.once(def, request, opts, md);
    } catch (e) {
      if (!isServiceError(e) || e.code !== status.UNAUTHENTICATED || !this.canRefresh) throw e;
      const used = String(md.get('authorization')[0] ?? '').replace(/^Bearer /, '');
      await this.refreshAfterRefusal(used);
      return this.once(def, request, opts, await this.metadata(opts.metadata));
    }
  }

  private once<Req, Res>(def: MethodDef<Req, Res>, request: Req, opts: CallOpts, md: Metadata): Promise<Res> {
    const deadline = Date.now() + (opts.deadlineMs ?? this.opts.deadlineMs ?? 15_000);
    return new Promise((resolve, reject) => {
      const call = this.grpc.makeUnaryRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        request,
        md,
        { deadline },
        (e: ServiceError | null, r?: Res) => (e ? reject(e) : resolve(r as Res)),
      );
      opts.signal?.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }
}
