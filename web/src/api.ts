// The chat.v1 services as typed clients, generated from proto/ (protoc-gen-es)
// and carried over grpc-web by connect-web: no hand-written encoding here. A
// new RPC or field in proto/ reaches this file by `npx buf generate` alone.
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { AccountService } from '../../src/gen-es/chat/v1/account_pb.js';
import { ChatService } from '../../src/gen-es/chat/v1/chat_pb.js';
import { PresenceService } from '../../src/gen-es/chat/v1/presence_pb.js';
import { SafetyService } from '../../src/gen-es/chat/v1/safety_pb.js';

export { Code, ConnectError };

export interface ChatApi {
  account: Client<typeof AccountService>;
  chat: Client<typeof ChatService>;
  presence: Client<typeof PresenceService>;
  safety: Client<typeof SafetyService>;
  /** The bearer token sent with every call ('' = none). */
  token: string;
  /** Set by session.ts: `due` refreshes a token about to expire before a call; `renew` after one was refused (false: signed out). */
  session?: { due(): Promise<void>; renew(refused: string): Promise<boolean> };
}

/** Calls that need no access token (RefreshSession's credential is the refresh token). */
const ANONYMOUS = new Set(['Register', 'Login', 'RefreshSession']);

/** Clients for the grpc-web endpoint at `baseUrl` (the page's own origin by default). */
export function chatApi(baseUrl = location.origin): ChatApi {
  const api = { token: '' } as ChatApi;
  // A unary call refused as UNAUTHENTICATED (the token expired while the tab
  // slept, say) is sent once more after a refresh; streams retry in sync.ts.
  const auth: Interceptor = (next) => async (req) => {
    if (ANONYMOUS.has(req.method.name)) return next(req);
    await api.session?.due().catch(() => {});
    const token = api.token;
    if (token) req.header.set('authorization', `Bearer ${token}`);
    try {
      return await next(req);
    } catch (e) {
      if (req.stream || !token || codeOf(e) !== Code.Unauthenticated || !(await api.session?.renew(token).catch(() => false))) throw e;
      req.header.set('authorization', `Bearer ${api.token}`);
      return await next(req);
    }
  };
  const transport = createGrpcWebTransport({ baseUrl, interceptors: [auth] });
  api.account = createClient(AccountService, transport);
  api.chat = createClient(ChatService, transport);
  api.presence = createClient(PresenceService, transport);
  api.safety = createClient(SafetyService, transport);
  return api;
}

/** The gRPC status code of an error from a call (Unknown for anything else). */
export const codeOf = (e: unknown): Code => ConnectError.from(e).code;

/** A message for people: the server's text without connect's "[code]" prefix. */
export const messageOf = (e: unknown): string => ConnectError.from(e).rawMessage;
