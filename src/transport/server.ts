import { Server, ServerCredentials, type ServiceDefinition } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { AccountServiceService } from '../gen/chat/v1/account.js';
import { ChatServiceService, ClientFrame, SendMessageRequest, ServerFrame } from '../gen/chat/v1/chat.js';
import { DiscoveryServiceService } from '../gen/chat/v1/discovery.js';
import { PresenceServiceService } from '../gen/chat/v1/presence.js';
import { accountService } from './accountService.js';
import { chatService } from './chatService.js';
import { discoveryService } from './discoveryService.js';
import type { TransportDeps } from './handler.js';
import { presenceService } from './presenceService.js';
import { CLIENT_FRAME_SCHEMA, SEND_SCHEMA, checkedDecoder } from './wire.js';

export const SERVICE_NAMES = ['chat.v1.AccountService', 'chat.v1.ChatService', 'chat.v1.PresenceService', 'chat.v1.DiscoveryService'];

export interface GrpcOptions {
  maxReceiveMessageBytes: number;
  maxConcurrentStreams: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

/** Frames may be pre-encoded Buffers (fan-out encodes once) or objects. */
const frameSerialize = (v: ServerFrame | Buffer): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(ServerFrame.encode(v).finish()));

type MethodDef = { path: string; requestDeserialize: (b: Buffer) => object };

/**
 * Every method's decoder turns a decoding failure (malformed bytes, an id
 * past 2^53) into INVALID_ARGUMENT instead of grpc-js's INTERNAL.
 */
function harden<T extends Record<string, MethodDef>>(def: T): T {
  const out: Record<string, MethodDef> = {};
  for (const [name, m] of Object.entries(def)) {
    const type = m.path.split('/')[1] + '.' + m.path.split('/')[2] + ' request';
    out[name] = { ...m, requestDeserialize: checkedDecoder({ name: type, strings: {} }, m.requestDeserialize) };
  }
  return out as T;
}

/** The chat service definition with decoders that flag invalid UTF-8 and writers that accept bytes. */
function chatDefinition(): ServiceDefinition {
  return {
    ...harden(ChatServiceService as unknown as Record<string, MethodDef>),
    connect: {
      ...ChatServiceService.connect,
      requestDeserialize: checkedDecoder(CLIENT_FRAME_SCHEMA, (b) => ClientFrame.decode(b)),
      responseSerialize: frameSerialize,
    },
    subscribe: { ...harden({ s: ChatServiceService.subscribe as unknown as MethodDef }).s, responseSerialize: frameSerialize },
    sendMessage: { ...ChatServiceService.sendMessage, requestDeserialize: checkedDecoder(SEND_SCHEMA, (b) => SendMessageRequest.decode(b)) },
  } as unknown as ServiceDefinition;
}

/** Where the .proto sources live (for reflection), relative to dist/src/transport or src/transport. */
function protoRoot(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/') ? here.replace(/\/dist\/src\/transport\/?$/, '/proto') : here.replace(/\/src\/transport\/?$/, '/proto');
}

export interface ChatServer {
  server: Server;
  health: HealthImplementation;
  port: number;
  setServing(serving: boolean): void;
}

/** Builds and binds the gRPC server: chat services, grpc.health.v1 and server reflection. */
export async function startGrpcServer(deps: TransportDeps, host: string, port: number, opts: GrpcOptions): Promise<ChatServer> {
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxReceiveMessageBytes,
    'grpc.max_concurrent_streams': opts.maxConcurrentStreams,
    'grpc.keepalive_time_ms': opts.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': opts.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    // Clients may ping every 10 s without being treated as abusive.
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  });
  server.addService(harden(AccountServiceService as unknown as Record<string, MethodDef>) as unknown as ServiceDefinition, accountService(deps) as never);
  server.addService(chatDefinition(), chatService(deps) as never);
  server.addService(harden(PresenceServiceService as unknown as Record<string, MethodDef>) as unknown as ServiceDefinition, presenceService(deps) as never);
  server.addService(harden(DiscoveryServiceService as unknown as Record<string, MethodDef>) as unknown as ServiceDefinition, discoveryService(deps) as never);

  const statuses = Object.fromEntries(['', ...SERVICE_NAMES].map((s) => [s, 'SERVING' as const]));
  const health = new HealthImplementation(statuses);
  health.addToServer(server);

  const root = protoRoot();
  const pkg = loadSync(['chat/v1/account.proto', 'chat/v1/chat.proto', 'chat/v1/presence.proto', 'chat/v1/discovery.proto'], {
    includeDirs: [root],
    keepCase: true,
  });
  new ReflectionService(pkg).addToServer(server);

  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    server,
    health,
    port: bound,
    setServing(serving) {
      for (const s of ['', ...SERVICE_NAMES]) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
    },
  };
}
