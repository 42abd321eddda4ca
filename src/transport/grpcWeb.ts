import { Client, credentials, Metadata, status, type ClientReadableStream, type ClientUnaryCall, type StatusObject } from '@grpc/grpc-js';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { AccountServiceService } from '../gen/chat/v1/account.js';
import { ChatServiceService } from '../gen/chat/v1/chat.js';
import { DiscoveryServiceService } from '../gen/chat/v1/discovery.js';
import { PresenceServiceService } from '../gen/chat/v1/presence.js';
import { SafetyServiceService } from '../gen/chat/v1/safety.js';
import { PeerResolver, setBridgePeer, stripBridgePeer } from './peer.js';

export interface GrpcWebOptions {
  /** host:port of the plaintext gRPC server every call is forwarded to (normally this node, on loopback). */
  grpcAddress: string;
  host: string;
  /** 0 picks a free port (see the returned `port`). */
  port: number;
  /** Served on GET/HEAD (`/` is index.html), so the web client shares the endpoint's origin. */
  staticDir?: string;
  /** Origins allowed to call cross-origin. Default `['*']`: any (bearer tokens, no cookies). Same-origin always works. */
  allowedOrigins?: string[];
  /** Largest accepted request body; bigger answers RESOURCE_EXHAUSTED. Default 1 MiB. */
  maxRequestBytes?: number;
  /** A client must send its request headers within this time (slowloris). Default 10 s. */
  headersTimeoutMs?: number;
  /** ... and its whole request, body included, within this time. Responses (server streams) are not limited. Default 30 s. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this time. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** Open connections per client address; more are closed at once. Default 256. */
  maxConnectionsPerPeer?: number;
  /** Resolves the browser's address (trusted proxies); it reaches the gRPC server as bridge metadata. Default: the socket's peer. */
  peers?: PeerResolver;
}

export interface GrpcWebServer {
  port: number;
  /** Connections from this address the server holds open now (the per-peer cap's own count). */
  openConnections(peer: string): number;
  /** Stops accepting, cancels the calls in flight, closes the upstream channel. */
  close(): Promise<void>;
}

type Kind = 'unary' | 'server' | 'client';
/** Method kinds by path. Unknown paths are forwarded as server streams: on the wire that also covers unary methods. */
const KINDS = new Map<string, Kind>([
  ['/grpc.health.v1.Health/Check', 'unary'],
  ['/grpc.health.v1.Health/Watch', 'server'],
]);
for (const def of [AccountServiceService, ChatServiceService, PresenceServiceService, DiscoveryServiceService, SafetyServiceService]) {
  for (const m of Object.values(def)) KINDS.set(m.path, m.requestStream ? 'client' : m.responseStream ? 'server' : 'unary');
}

/** Request headers that describe the HTTP/1 hop or the browser, not the call: never forwarded as metadata. */
const HOP =
  /^(:|grpc-|sec-|access-control-|proxy-)|^(host|connection|keep-alive|te|trailer|transfer-encoding|upgrade|content-type|content-length|content-encoding|accept|accept-encoding|accept-language|user-agent|origin|referer|cookie|x-grpc-web|x-user-agent|cache-control|pragma|priority|dnt)$/;
/** Response metadata the HTTP layer owns. */
const RESERVED_OUT = /^(:|content-type$|content-length$|date$|te$|transfer-encoding$|connection$|grpc-encoding$|grpc-accept-encoding$)/;
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};
const identity = (b: Buffer) => b;

class CallError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/** One grpc-web response: headers go out lazily (with the upstream's header metadata), then data frames, then one trailer frame. */
class Reply {
  done = false;
  constructor(
    private readonly res: ServerResponse,
    private readonly text: boolean,
  ) {}

  headers(md?: Metadata) {
    if (this.res.headersSent) return;
    this.res.setHeader('content-type', this.text ? 'application/grpc-web-text+proto' : 'application/grpc-web+proto');
    this.res.setHeader('cache-control', 'no-store');
    for (const [k, vs] of Object.entries(md?.toJSON() ?? {})) {
      if (!RESERVED_OUT.test(k))
        this.res.setHeader(
          k,
          vs.map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : v)),
        );
    }
    this.res.writeHead(200);
  }

  /** Writes one data frame; false means the socket is full (wait for 'drain'). */
  message = (msg: Buffer): boolean => {
    this.headers();
    return this.write(0x00, msg);
  };

  /** Ends the response with the status and trailing metadata in a 0x80 frame. Idempotent. */
  finish(code: status, details: string, trailers?: Metadata) {
    if (this.done) return;
    this.done = true;
    if (this.res.destroyed) return;
    this.headers();
    const lines = [`grpc-status: ${code}`, `grpc-message: ${encodeMessage(details)}`];
    for (const [k, vs] of Object.entries(trailers?.toJSON() ?? {})) {
      if (RESERVED_OUT.test(k) || k === 'grpc-status' || k === 'grpc-message') continue;
      // Text mode skips the extra base64 of -bin values (PROTOCOL-WEB); latin1 keeps the bytes as they are.
      for (const v of vs) lines.push(`${k}: ${Buffer.isBuffer(v) ? v.toString(this.text ? 'latin1' : 'base64') : v}`);
    }
    this.write(0x80, Buffer.from(lines.map((l) => l + '\r\n').join(''), 'latin1'));
    this.res.end();
  }

  private write(flag: number, payload: Buffer): boolean {
    const frame = Buffer.allocUnsafe(5 + payload.length);
    frame[0] = flag;
    frame.writeUInt32BE(payload.length, 1);
    payload.copy(frame, 5);
    // Text mode: each flush is its own padded base64 chunk; clients decode chunk by chunk.
    return this.res.write(this.text ? frame.toString('base64') : frame);
  }
}

/** grpc-message is percent-encoded: everything outside printable ASCII, and '%'. */
const encodeMessage = (s: string) => s.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));

/** Decodes concatenated base64 chunks, each possibly padded ("AAA=BBBB"). */
const fromBase64Chunks = (s: string) => Buffer.concat((s.replace(/\s+/g, '').match(/[^=]+=*/g) ?? []).map((p) => Buffer.from(p, 'base64')));

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) {
    chunks.push(c);
    if ((limit -= c.length) < 0) throw new CallError(status.RESOURCE_EXHAUSTED, 'request body too large');
  }
  return Buffer.concat(chunks);
}

/** The single request message of a grpc-web body (browsers cannot stream requests). */
function singleMessage(body: Buffer): Buffer {
  if (body.length < 5) throw new CallError(status.INVALID_ARGUMENT, 'grpc-web body must hold one length-prefixed message');
  if (body[0]! & 0x01) throw new CallError(status.UNIMPLEMENTED, 'compressed grpc-web messages are not supported');
  const len = body.readUInt32BE(1);
  if (body[0] !== 0 || body.length !== 5 + len) throw new CallError(status.INVALID_ARGUMENT, 'grpc-web body must hold exactly one uncompressed message');
  return body.subarray(5);
}

/** Custom request headers become call metadata (authorization included); `-bin` values are base64. */
function metadataOf(req: IncomingMessage): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries(req.headers)) {
    if (HOP.test(k) || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) {
      try {
        md.add(k, k.endsWith('-bin') ? Buffer.from(one, 'base64') : one);
      } catch {
        throw new CallError(status.INVALID_ARGUMENT, `request header "${k}" is not valid gRPC metadata`);
      }
    }
  }
  return md;
}

const UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
function deadlineOf(req: IncomingMessage): Date | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(String(req.headers['grpc-timeout'] ?? ''));
  return m ? new Date(Date.now() + Number(m[1]) * UNITS[m[2]!]!) : undefined;
}

/** HTTP/1.1 timeouts: headers and whole requests are bounded, and checked often enough to matter. */
function httpOptions(opts: GrpcWebOptions): ServerOptions {
  const headersTimeout = opts.headersTimeoutMs ?? 10_000;
  return {
    headersTimeout,
    requestTimeout: Math.max(opts.requestTimeoutMs ?? 30_000, headersTimeout),
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5_000,
    // Node checks the two timeouts above on this interval (30 s by default).
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersTimeout / 4))),
  };
}

/** Closes a new connection at once when its address already holds `max` open ones; returns the open counts. */
function capPerPeer(server: Server, max: number): ReadonlyMap<string, number> {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress ?? '?';
    const n = open.get(peer) ?? 0;
    if (n >= max) return void socket.destroy();
    open.set(peer, n + 1);
    socket.once('close', () => {
      const left = (open.get(peer) ?? 1) - 1;
      if (left > 0) open.set(peer, left);
      else open.delete(peer);
    });
  });
  return open;
}

/**
 * Serves grpc-web (binary and base64 text) over HTTP/1.1 and forwards each call
 * to the gRPC server at `grpcAddress`, so browsers can use Subscribe plus the
 * unary calls without Envoy. Contracts:
 * - request headers (authorization, custom ones) become metadata; `grpc-timeout` becomes the deadline;
 * - the response is HTTP 200 with data frames and a final trailer frame carrying
 *   `grpc-status`, `grpc-message` and trailing metadata, also for errors;
 * - client-streaming and bidi methods (Connect) answer UNIMPLEMENTED;
 * - a server stream is flushed per message, the upstream stream is paused while the
 *   socket is full, and it is cancelled when the browser goes away.
 */
export async function startGrpcWebServer(opts: GrpcWebOptions): Promise<GrpcWebServer> {
  const bridge: Bridge = {
    upstream: new Client(opts.grpcAddress, credentials.createInsecure()),
    calls: new Set(),
    limit: opts.maxRequestBytes ?? 1 << 20,
    peers: opts.peers ?? new PeerResolver(''),
  };
  const { upstream, calls } = bridge;
  const allowed = opts.allowedOrigins ?? ['*'];
  const root = opts.staticDir ? resolve(opts.staticDir) : undefined;
  const server = createServer(httpOptions(opts), (req, res) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return void res.writeHead(400).end();
    }
    if (!cors(allowed, req, res)) return void res.writeHead(403, { 'content-type': 'text/plain' }).end('origin not allowed\n');
    const type = String(req.headers['content-type'] ?? '');
    if (req.method === 'OPTIONS') return preflight(req, res);
    if (req.method === 'POST' && type.startsWith('application/grpc-web'))
      return void forward(bridge, req, res, path, type.startsWith('application/grpc-web-text'));
    if ((req.method === 'GET' || req.method === 'HEAD') && root) return void serveStatic(root, req, res, path).catch(() => res.destroy());
    res.writeHead(req.method === 'POST' ? 415 : 405, { 'content-type': 'text/plain' }).end('expected a grpc-web POST\n');
  });
  const perPeer = capPerPeer(server, opts.maxConnectionsPerPeer ?? 256);
  // A deep accept queue (the kernel caps it at net.core.somaxconn): a burst of connections, a reconnect storm or
  // a flood from one address, waits there to be accepted (and capped per peer) instead of having SYNs dropped,
  // which would cost every other client arriving meanwhile a one-second retransmit.
  await new Promise<void>((ok, fail) => server.once('error', fail).listen({ port: opts.port, host: opts.host, backlog: 4096 }, ok));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : opts.port,
    openConnections: (peer: string) => perPeer.get(peer) ?? 0,
    async close() {
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      for (const c of calls) c.cancel();
      calls.clear();
      server.closeAllConnections();
      await closed;
      upstream.close();
    },
  };
}

/** What the bridge forwards through: the upstream client, its open calls, the body limit and the peer resolver. */
interface Bridge {
  upstream: Client;
  calls: Set<ClientUnaryCall | ClientReadableStream<Buffer>>;
  limit: number;
  peers: PeerResolver;
}

/** CORS: false when a cross-origin caller is not allowed. */
function cors(allowed: string[], req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  const same = origin === `http://${req.headers.host}` || origin === `https://${req.headers.host}`;
  if (!same && !allowed.includes('*') && !allowed.includes(origin)) return false;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'Origin');
  res.setHeader('access-control-expose-headers', 'grpc-status, grpc-message, grpc-status-details-bin');
  return true;
}

/** Answers a CORS preflight. */
function preflight(req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(204, {
    'access-control-allow-methods': 'POST, GET, OPTIONS',
    'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'content-type, x-grpc-web, x-user-agent, authorization, grpc-timeout',
    'access-control-max-age': '86400',
  });
  res.end();
}

/** Forwards one grpc-web call upstream; every outcome ends in a trailer frame. */
async function forward(bridge: Bridge, req: IncomingMessage, res: ServerResponse, path: string, text: boolean): Promise<void> {
  const reply = new Reply(res, text);
  try {
    const kind = KINDS.get(path) ?? 'server';
    if (kind === 'client') {
      req.resume();
      throw new CallError(
        status.UNIMPLEMENTED,
        `${path.slice(1)} streams from the client, which grpc-web cannot carry: use chat.v1.ChatService/Subscribe and the unary calls`,
      );
    }
    const body = await readBody(req, bridge.limit);
    const msg = singleMessage(text ? fromBase64Chunks(body.toString('latin1')) : body);
    const md = metadataOf(req);
    stripBridgePeer(md);
    const xff = req.headers['x-forwarded-for'];
    setBridgePeer(md, bridge.peers.resolve(req.socket.remoteAddress, xff === undefined ? [] : [xff].flat()));
    if (res.destroyed) return;
    if (kind === 'unary') forwardUnary(bridge, req, res, reply, path, msg, md);
    else forwardStream(bridge, req, res, reply, path, msg, md);
  } catch (e) {
    if (e instanceof CallError) reply.finish(e.code, e.message);
    else reply.finish(status.INTERNAL, 'grpc-web bridge failure');
  }
}

function forwardUnary(bridge: Bridge, req: IncomingMessage, res: ServerResponse, reply: Reply, path: string, msg: Buffer, md: Metadata): void {
  const call = bridge.upstream.makeUnaryRequest(path, identity, identity, msg, md, { deadline: deadlineOf(req) }, (err, value) => {
    if (!err && value) reply.message(value);
  });
  bridge.calls.add(call);
  call.on('metadata', (m: Metadata) => reply.headers(m));
  call.on('status', (st: StatusObject) => {
    bridge.calls.delete(call);
    reply.finish(st.code, st.details, st.metadata);
  });
  res.on('close', () => reply.done || call.cancel());
}

/** A server stream: flushed per message, paused while the socket is full, cancelled when the browser goes away. */
function forwardStream(bridge: Bridge, req: IncomingMessage, res: ServerResponse, reply: Reply, path: string, msg: Buffer, md: Metadata): void {
  const call = bridge.upstream.makeServerStreamRequest(path, identity, identity, msg, md, { deadline: deadlineOf(req) });
  bridge.calls.add(call);
  let final: StatusObject | undefined;
  let ended = false;
  // The trailer goes out after every data frame: wait for both the status and the end of the readable side.
  const settle = () => {
    if (!final || !(ended || call.readableLength === 0)) return;
    bridge.calls.delete(call);
    reply.finish(final.code, final.details, final.metadata);
  };
  call.on('metadata', (m: Metadata) => reply.headers(m));
  call.on('data', (m: Buffer) => {
    if (reply.message(m) || res.destroyed) return;
    call.pause();
    res.once('drain', () => call.resume());
  });
  call.on('error', () => {}); // reported through 'status'
  call.on('end', () => {
    ended = true;
    settle();
  });
  call.on('status', (st: StatusObject) => {
    final = st;
    settle();
  });
  res.on('close', () => {
    if (reply.done) return;
    bridge.calls.delete(call);
    call.cancel();
  });
}

/** Serves the web client's files under `root` (no dot files, no traversal). */
async function serveStatic(root: string, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  let file = !path.includes('\0') && !/(^|\/)\./.test(path) ? resolve(root, '.' + path) : undefined;
  if (file && file !== root && !file.startsWith(root + sep)) file = undefined; // traversal
  if (file && (await stat(file).catch(() => undefined))?.isDirectory()) file = join(file, 'index.html');
  const data = file ? await readFile(file).catch(() => undefined) : undefined;
  if (!data) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  res.writeHead(200, {
    'content-type': MIME[extname(file!)] ?? 'application/octet-stream',
    'content-length': data.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : data);
}
