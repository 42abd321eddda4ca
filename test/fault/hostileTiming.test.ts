import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Client, credentials, Metadata, type ClientDuplexStream, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { ClientFrame } from '../../src/gen/chat/v1/chat.js';
import { SubscribeRequest } from '../../src/gen/chat/v1/chat.js';
import { WatchPresenceRequest } from '../../src/gen/chat/v1/presence.js';
import { Api, registerAndLogin, type Device } from '../support/client.js';
import { healthStatus } from '../support/health.js';
import { TEST_DEFAULTS } from '../support/node.js';
import { NodeProcess } from '../support/proc.js';
import { once, rng } from '../support/rng.js';
import { grpcWebFrame } from '../support/grpcWebCall.js';

/**
 * Hostile timing (issue 10, item 1): at least 10,000 call sequences against
 * Connect, Subscribe and WatchPresence, over native gRPC and over the grpc-web
 * endpoint, mixing missing, garbage, forged, expired and valid tokens with
 * valid, malformed and random frames, and ending each call by half-closing,
 * cancelling, resetting its connection or letting it run to its deadline
 * after any frame. The node runs in its own process: it must stay alive, every
 * call it finishes must carry a canonical status, its unhandled-rejection
 * counter must stay 0 and its RSS growth bounded. Seeded: FUZZ_SEED replays a run.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const SEQUENCES = 10_000;
const BATCH = 250; // sequences in flight on one connection; some batches end with a connection reset
const SECRET = 'hostile-timing-secret-0123456789abcdef';

const r = rng(SEED);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
const randBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));

let node: NodeProcess;
let webPort = 0;
let metricsUrl = '';
let proxy: Server;
const proxied = new Set<Socket>();
let tokens: Record<string, string | undefined> = {};
let channelId = '';
let peerId = '';

before(async () => {
  node = new NodeProcess({ ...TEST_DEFAULTS, CHAT_HOST: '127.0.0.1', CHAT_JWT_SECRET: SECRET, CHAT_MAX_STREAMS_PER_USER: '100000' });
  await node.ready();
  webPort = Number(/grpc-web: http:\/\/[^:]+:(\d+)/.exec(node.log)![1]);
  metricsUrl = `http://127.0.0.1:${/metrics: http:\/\/[^:]+:(\d+)/.exec(node.log)![1]}/metrics`;
  const api = new Api(node.address);
  const tag = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(api, `ht_a_${tag}`)) as [Device];
  const [b] = (await registerAndLogin(api, `ht_b_${tag}`)) as [Device];
  const { channel } = await a.openDirect(b.userName);
  channelId = channel!.channelId;
  peerId = b.userId;
  await a.send(channelId, 'seed');
  api.close();
  const key = (s: string) => new TextEncoder().encode(s);
  const jwt = (secret: string, exp: number | string) =>
    new SignJWT({ did: 'd1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(a.userId)
      .setIssuer('grpc-chat')
      .setAudience('grpc-chat')
      .setExpirationTime(exp)
      .sign(key(secret));
  tokens = {
    valid: a.token,
    missing: undefined,
    garbage: 'not.a.jwt',
    forged: await jwt('another secret, not the node one!!', '1h'),
    expired: await jwt(SECRET, Math.floor(Date.now() / 1000) - 60),
  };
  // A TCP proxy in front of the node, so that a batch's connection can be reset mid-call.
  proxy = createServer((c) => {
    const up = connect(Number(node.address.split(':')[1]), '127.0.0.1');
    proxied.add(c);
    const drop = () => {
      proxied.delete(c);
      c.destroy();
      up.destroy();
    };
    c.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
    c.pipe(up).pipe(c);
  });
  await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', res));
});

after(async () => {
  proxy?.close();
  node?.kill('SIGKILL');
});

const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${node.pid}/status`, 'utf8'))![1]) / 1024;

/** One client frame, chosen among valid, malformed and random ones. */
function frame(): Buffer {
  const enc = (f: ClientFrame) => Buffer.from(ClientFrame.encode(f).finish());
  switch (Math.floor(r() * 8)) {
    case 0:
      return enc({
        frame: {
          $case: 'resume',
          resume: { cursors: pick([[], [{ channelId, lastMessageId: 0 }], [{ channelId: 'g_' + 'a'.repeat(498), lastMessageId: 1 }]]) },
        },
      });
    case 1:
      return enc({ frame: { $case: 'send', send: { channelId, clientMsgId: randomUUID(), body: 'fuzz' } } });
    case 2:
      return enc({ frame: { $case: 'typing', typing: { channelId, typing: r() < 0.5 } } });
    case 3:
      return enc({ frame: { $case: 'ack', ack: { cursors: [{ channelId, lastMessageId: Math.floor(r() * 1e6) }] } } });
    case 4:
      return enc({ frame: { $case: 'heartbeat', heartbeat: {} } });
    case 5:
      return Buffer.from([0x0a, 0x05, 0x0a, 0x03, 0xff, 0x41, 0xc3]); // send with invalid UTF-8, truncated
    case 6:
      return Buffer.alloc(0);
    default:
      return randBytes(1 + Math.floor(r() * 40));
  }
}

type Ending = 'halfclose' | 'cancel' | 'deadline' | 'reset';
type Outcome = { code: number | 'reset' | 'local' };

const CANONICAL = new Set(Array.from({ length: 17 }, (_, i) => i));

function md(token: string | undefined) {
  const m = new Metadata();
  if (token !== undefined) m.set('authorization', `Bearer ${token}`);
  return m;
}

/** One native call: method, token, 0-4 frames, then an ending after a random frame. */
function nativeSequence(client: Client, ending: Ending): Promise<Outcome> {
  const method = pick(['connect', 'subscribe', 'watch'] as const);
  const token = tokens[pick(Object.keys(tokens))];
  const deadline = Date.now() + 200 + Math.floor(r() * 800);
  const id = (b: Buffer) => b;
  let call: ClientDuplexStream<Buffer, Buffer> | ClientReadableStream<Buffer>;
  if (method === 'connect') {
    call = client.makeBidiStreamRequest('/chat.v1.ChatService/Connect', id, id, md(token), { deadline });
  } else {
    const body =
      method === 'subscribe'
        ? r() < 0.8
          ? Buffer.from(SubscribeRequest.encode({ cursors: [{ channelId, lastMessageId: 0 }] }).finish())
          : randBytes(1 + Math.floor(r() * 30))
        : r() < 0.8
          ? Buffer.from(WatchPresenceRequest.encode({ userIds: pick([[peerId], ['u_' + 'f'.repeat(32)], [], ['x']]) }).finish())
          : randBytes(1 + Math.floor(r() * 30));
    const path = method === 'subscribe' ? '/chat.v1.ChatService/Subscribe' : '/chat.v1.PresenceService/WatchPresence';
    call = client.makeServerStreamRequest(path, id, id, body, md(token), { deadline });
  }
  const frames = method === 'connect' ? Math.floor(r() * 5) : 0;
  const stopAfter = Math.floor(r() * (frames + 1));
  return new Promise<Outcome>((resolve) => {
    const end = once(resolve);
    call.on('data', () => {});
    call.on('error', (e: ServiceError) => end({ code: e.code }));
    call.on('status', (s: { code: number }) => end({ code: s.code }));
    const duplex = call as ClientDuplexStream<Buffer, Buffer>;
    let i = 0;
    const step = () => {
      if (end.done) return;
      if (i === stopAfter) {
        if (ending === 'halfclose' && method === 'connect') duplex.end();
        if (ending === 'cancel') {
          call.cancel();
          end({ code: 'local' });
        }
        return; // 'deadline' and 'reset' leave the call open for the deadline or the batch's reset
      }
      duplex.write(frame());
      i++;
      setImmediate(step);
    };
    step();
  });
}

/** One grpc-web call over HTTP/1.1: a framed request, then completion, an abort or a socket reset. */
function webSequence(agent: Agent): Promise<Outcome> {
  const method = pick(['Subscribe', 'WatchPresence', 'Connect'] as const);
  const token = tokens[pick(Object.keys(tokens))];
  const msg =
    r() < 0.2
      ? randBytes(Math.floor(r() * 30))
      : method === 'WatchPresence'
        ? Buffer.from(WatchPresenceRequest.encode({ userIds: [peerId] }).finish())
        : Buffer.from(SubscribeRequest.encode({ cursors: [] }).finish());
  let body = grpcWebFrame(msg);
  const shape = Math.floor(r() * 6);
  if (shape === 0) body = body.subarray(0, Math.floor(r() * body.length)); // truncated frame
  if (shape === 1) body = Buffer.concat([body, randBytes(7)]); // trailing garbage
  const ending = pick(['complete', 'abort', 'destroy'] as const);
  const svc = method === 'WatchPresence' ? 'chat.v1.PresenceService' : 'chat.v1.ChatService';
  return new Promise<Outcome>((resolve) => {
    const end = once(resolve);
    const headers: Record<string, string> = { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const req = request({ host: '127.0.0.1', port: webPort, method: 'POST', path: `/${svc}/${method}`, headers, agent, timeout: 5_000 }, (res) => {
      let buf = Buffer.alloc(0);
      const headerStatus = res.headers['grpc-status'];
      res.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (ending !== 'complete') {
          if (ending === 'abort') req.destroy();
          else res.socket.resetAndDestroy();
          end({ code: 'local' });
        }
      });
      res.on('end', () => {
        if (headerStatus !== undefined) return end({ code: Number(headerStatus) });
        const m = /grpc-status:\s*(\d+)/.exec(buf.toString('latin1'));
        end({ code: m ? Number(m[1]) : -1 });
      });
      res.on('error', () => end({ code: 'reset' }));
      res.on('close', () => end({ code: 'reset' }));
      if (ending === 'complete') setTimeout(() => req.destroy(), 300 + Math.floor(r() * 500)); // live streams stay open: leave after a while
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => end({ code: 'reset' }));
    if (ending === 'abort' && r() < 0.3) {
      req.write(body.subarray(0, 2));
      setTimeout(() => {
        req.destroy();
        end({ code: 'local' });
      }, 5);
    } else req.end(body);
  });
}

async function counter(): Promise<number> {
  const m = /^chat_unhandled_rejections_total (\d+)/m.exec(await (await fetch(metricsUrl)).text());
  assert.ok(m, 'chat_unhandled_rejections_total is exported');
  return Number(m[1]);
}

test(`hostile timing: ${SEQUENCES} sequences on Connect, Subscribe and WatchPresence, native and grpc-web; the node survives with canonical statuses`, async () => {
  const rssBefore = rss();
  const proxyPort = (proxy.address() as { port: number }).port;
  const codes = new Map<string, number>();
  const bad: string[] = [];
  const note = (where: string, o: Outcome) => {
    const k = `${where}:${o.code}`;
    codes.set(k, (codes.get(k) ?? 0) + 1);
    // Canonical, and never INTERNAL: nothing a client sends is the server's own failure.
    if (typeof o.code === 'number' && (!CANONICAL.has(o.code) || o.code === 13)) bad.push(k);
  };
  let run = 0;
  while (run < SEQUENCES) {
    const native = r() < 0.6;
    const n = Math.min(BATCH, SEQUENCES - run);
    if (native) {
      // A client of its own per batch: its own HTTP/2 connection through the proxy.
      const client = new Client(`127.0.0.1:${proxyPort}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
      const reset = r() < 0.3;
      const calls = Array.from({ length: n }, () => nativeSequence(client, pick(['halfclose', 'cancel', 'deadline', reset ? 'reset' : 'cancel'] as const)));
      if (reset) {
        await new Promise((res) => setTimeout(res, 20 + Math.floor(r() * 80)));
        for (const s of proxied) s.resetAndDestroy();
      }
      for (const o of await Promise.all(calls)) note('native', o);
      client.close();
    } else {
      const agent = new Agent({ keepAlive: true, maxSockets: 20 });
      for (const o of await Promise.all(Array.from({ length: n }, () => webSequence(agent)))) note('web', o);
      agent.destroy();
    }
    run += n;
    assert.equal(node.exitCode, null, `the node exited after ${run} sequences:\n${node.log.slice(-3000)}`);
  }
  await new Promise((res) => setTimeout(res, 1000));
  assert.equal(node.exitCode, null, `the node exited:\n${node.log.slice(-3000)}`);
  assert.equal(await healthStatus(node.address), 'SERVING');
  assert.deepEqual([...new Set(bad)], [], 'every status the node sent is canonical and none is INTERNAL');
  assert.ok(!/"level":50|"level":60/.test(node.log) || !/unhandled/i.test(node.log), `no unhandled rejection logged:\n${node.log.slice(-3000)}`);
  assert.equal(await counter(), 0, 'chat_unhandled_rejections_total');
  const growth = rss() - rssBefore;
  console.log(`hostile timing: ${run} sequences, node RSS +${growth.toFixed(1)} MiB; outcomes ${JSON.stringify(Object.fromEntries([...codes].sort()))}`);
  assert.ok(growth < 150, `node RSS grew by ${growth.toFixed(1)} MiB`);
});
