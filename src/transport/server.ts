import { Server, ServerCredentials, status as Status, type ServerWritableStream, type ServiceDefinition } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { reflectedDefinition } from './reflection.js';
import { ReflectionService } from '@grpc/reflection';
import * as account from '../gen/chat/v1/account.js';
import * as chat from '../gen/chat/v1/chat.js';
import * as common from '../gen/chat/v1/common.js';
import * as discovery from '../gen/chat/v1/discovery.js';
import * as presence from '../gen/chat/v1/presence.js';
import * as safety from '../gen/chat/v1/safety.js';
import { accountService } from './accountService.js';
import { chatService } from './chatService.js';
import { discoveryService } from './discoveryService.js';
import type { TransportDeps } from './handler.js';
import { presenceService } from './presenceService.js';
import { safetyService } from './safetyService.js';
import { type ProtoSchema, protoSchema } from './protoSchema.js';
import { type GeneratedCodec, problemWith, strictDecoder } from './strictDecode.js';

const { AccountServiceService } = account;
const { ChatServiceService, ServerFrame } = chat;
const { DiscoveryServiceService } = discovery;
const { PresenceServiceService } = presence;
const { SafetyServiceService } = safety;

export const SERVICE_NAMES = ['chat.v1.AccountService', 'chat.v1.ChatService', 'chat.v1.PresenceService', 'chat.v1.DiscoveryService', 'chat.v1.SafetyService'];

export interface GrpcOptions {
  maxReceiveMessageBytes: number;
  maxConcurrentStreams: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

/** Frames may be pre-encoded Buffers (fan-out encodes once) or objects. */
const frameSerialize = (v: chat.ServerFrame | Buffer): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(ServerFrame.encode(v).finish()));

type MethodDef = { path: string; requestStream: boolean; responseStream: boolean; requestDeserialize: (b: Buffer) => object };
type Handler = (call: ServerWritableStream<object, unknown>, cb?: unknown) => void;

/** Every generated message codec, by full type name. */
const CODECS: Record<string, unknown> = Object.fromEntries(
  [account, chat, common, discovery, presence, safety].flatMap((mod) => Object.entries(mod).map(([name, codec]) => [`${mod.protobufPackage}.${name}`, codec])),
);

/**
 * Swaps every method's decoder for the strict one (see strictDecode.ts): the
 * request type comes from the descriptors, its codec from the generated code.
 */
function strict(def: Record<string, MethodDef>, schema: ProtoSchema): Record<string, MethodDef> {
  const methods = new Map(schema.methods().map((m) => [m.path, m]));
  const out: Record<string, MethodDef> = {};
  for (const [name, m] of Object.entries(def)) {
    const type = methods.get(m.path)?.requestType ?? '';
    const codec = CODECS[type] as GeneratedCodec<object> | undefined;
    if (typeof codec?.decode !== 'function') throw new Error(`no generated codec for the request of ${m.path}`);
    out[name] = { ...m, requestDeserialize: strictDecoder(codec, schema, type) };
  }
  return out;
}

/**
 * Server-streaming handlers answer a flagged request with INVALID_ARGUMENT
 * before they run (unary handlers do it in `instrumented`, Connect per frame).
 */
function refuseFlagged(def: Record<string, MethodDef>, impl: Record<string, Handler>): Record<string, Handler> {
  const out = { ...impl };
  for (const [name, m] of Object.entries(def)) {
    const h = impl[name];
    if (!h || m.requestStream || !m.responseStream) continue;
    out[name] = (call) => {
      const problem = problemWith(call.request);
      if (problem) call.emit('error', { code: Status.INVALID_ARGUMENT, details: problem });
      else h(call);
    };
  }
  return out;
}

function addService(server: Server, generated: unknown, impl: unknown, overrides: Record<string, object> = {}) {
  const def = strict(generated as Record<string, MethodDef>, protoSchema());
  for (const [name, o] of Object.entries(overrides)) def[name] = { ...def[name]!, ...o };
  server.addService(def as unknown as ServiceDefinition, refuseFlagged(def, impl as Record<string, Handler>) as never);
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
  addService(server, AccountServiceService, accountService(deps));
  // Frames may be pre-encoded Buffers (fan-out encodes once) or objects.
  const frames = { responseSerialize: frameSerialize };
  addService(server, ChatServiceService, chatService(deps), { connect: frames, subscribe: frames });
  addService(server, PresenceServiceService, presenceService(deps));
  addService(server, DiscoveryServiceService, discoveryService(deps));
  addService(server, SafetyServiceService, safetyService(deps));

  const statuses = Object.fromEntries(['', ...SERVICE_NAMES].map((s) => [s, 'SERVING' as const]));
  const health = new HealthImplementation(statuses);
  health.addToServer(server);

  new ReflectionService(reflectedDefinition()).addToServer(server);

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
