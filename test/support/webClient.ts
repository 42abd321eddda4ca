import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { AccountService } from '../../src/gen-es/chat/v1/account_pb.js';
import { ChatService } from '../../src/gen-es/chat/v1/chat_pb.js';
import { PresenceService } from '../../src/gen-es/chat/v1/presence_pb.js';

/**
 * The browser's clients (protoc-gen-es + connect-web's gRPC-web transport), in
 * Node: the same generated code and transport as web/src/api.ts, against a
 * grpc-web endpoint. `token` is sent as the bearer token of every call;
 * `fetch` replaces the global one (a test that must close the connection itself).
 */
export function webClients(baseUrl: string, token = '', fetch?: typeof globalThis.fetch) {
  const transport = createGrpcWebTransport({
    baseUrl,
    ...(fetch ? { fetch } : {}),
    interceptors: [
      (next) => (req) => {
        if (token) req.header.set('authorization', `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  return {
    account: createClient(AccountService, transport) as Client<typeof AccountService>,
    chat: createClient(ChatService, transport) as Client<typeof ChatService>,
    presence: createClient(PresenceService, transport) as Client<typeof PresenceService>,
  };
}
