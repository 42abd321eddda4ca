import { credentials, Metadata, status, type CallOptions, type ServiceError } from '@grpc/grpc-js';
import { AccountServiceClient } from '../gen/chat/v1/account.js';
import { ChatServiceClient } from '../gen/chat/v1/chat.js';
import { DiscoveryServiceClient } from '../gen/chat/v1/discovery.js';
import { PresenceServiceClient } from '../gen/chat/v1/presence.js';
import { SafetyServiceClient } from '../gen/chat/v1/safety.js';

/** How long a unary call may take before the CLI gives up. */
const UNARY_DEADLINE_MS = 15_000;

/** An error meant for the user: printed as `error: <message>` without a stack trace. */
export class CliError extends Error {}

/** True for errors that came back from a gRPC call (they carry a numeric status code). */
export function isServiceError(e: unknown): e is ServiceError {
  return typeof e === 'object' && e !== null && typeof (e as ServiceError).code === 'number' && 'details' in e;
}

/** The canonical name of a gRPC status code, e.g. 5 -> "NOT_FOUND". */
export function codeName(code: number): string {
  return (status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

/** One line describing any failure: `<grpc details> (<CODE name>)` for gRPC errors. */
export function describeError(e: unknown): string {
  if (isServiceError(e)) return `${e.details || e.message} (${codeName(e.code)})`;
  if (e instanceof Error) return e.message;
  return String(e);
}

type Callback<Res> = (e: ServiceError | null, r: Res) => void;
type UnaryMethod<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: Callback<Res>) => unknown;

/** Typed grpc-js clients for one server address, plus the caller's bearer token. */
export class Api {
  accounts!: AccountServiceClient;
  chat!: ChatServiceClient;
  presence!: PresenceServiceClient;
  discovery!: DiscoveryServiceClient;
  safety!: SafetyServiceClient;
  address = '';
  /** Called before each unary call for a token good for a while (renewing it when needed); see session.ts. */
  freshen?: () => Promise<string>;

  constructor(
    address: string,
    public token = '',
  ) {
    this.retarget(address);
  }

  /** Points every client at another node (after a reconnect hint or PickServer). */
  retarget(address: string) {
    if (address === this.address) return;
    if (this.address) this.close();
    this.address = address;
    const creds = credentials.createInsecure();
    this.accounts = new AccountServiceClient(address, creds);
    this.chat = new ChatServiceClient(address, creds);
    this.presence = new PresenceServiceClient(address, creds);
    this.discovery = new DiscoveryServiceClient(address, creds);
    this.safety = new SafetyServiceClient(address, creds);
  }

  /** Metadata carrying `authorization: Bearer <token>` when a token is set. */
  md(): Metadata {
    const md = new Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  /** Calls a unary method as a promise, with the token and a deadline. */
  async call<Req, Res>(client: object, fn: UnaryMethod<Req, Res>, req: Req): Promise<Res> {
    if (this.freshen) this.token = await this.freshen();
    const opts = { deadline: Date.now() + UNARY_DEADLINE_MS };
    return new Promise((resolve, reject) => {
      fn.call(client, req, this.md(), opts, (e, r) => (e ? reject(e) : resolve(r)));
    });
  }

  /** Closes every client's channel. */
  close() {
    this.accounts.close();
    this.chat.close();
    this.presence.close();
    this.discovery.close();
    this.safety.close();
  }
}
