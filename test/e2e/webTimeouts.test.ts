import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { ServerFrame } from '../../src/gen/chat/v1/chat.js';
import { SubscribeRequest } from '../../src/gen/chat/v1/chat.js';
import { registerAndLogin, type Device } from '../support/client.js';
import { grpcWebCall } from '../support/grpcWebCall.js';
import { sleep, testNode } from '../support/node.js';

const HEADERS_MS = 2000;
const REQUEST_MS = 3000;
const KEEPALIVE_MS = 1000;
const PER_PEER = 50;

let env: Awaited<ReturnType<typeof testNode>>;
let a: Device;
let b: Device;
let base: string;

before(async () => {
  env = await testNode({
    CHAT_WEB_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
    CHAT_WEB_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
    CHAT_WEB_KEEPALIVE_TIMEOUT_MS: String(KEEPALIVE_MS),
    CHAT_WEB_MAX_CONNECTIONS_PER_PEER: String(PER_PEER),
  });
  const t = randomUUID().slice(0, 6);
  [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  base = `http://127.0.0.1:${env.node.webPort}`;
});
after(async () => {
  await env.stop();
});

interface Slow {
  socket: Socket;
  openedAt: number;
  connectedAt?: number;
  closedAt?: number;
  got: string;
}

/** A connection from `from` that writes `head`, then one more byte of `trickle` every `everyMs`, never finishing. */
function slowClient(from: string, head: string, trickle: string, everyMs: number): Slow {
  const socket = connect({ host: '127.0.0.1', port: env.node.webPort, localAddress: from });
  const s: Slow = { socket, openedAt: Date.now(), got: '' };
  let i = 0;
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    s.connectedAt = Date.now();
    socket.write(head);
    if (trickle) timer = setInterval(() => socket.writable && socket.write(trickle[i++ % trickle.length]!), everyMs);
  });
  socket.on('data', (d) => (s.got += d.toString('latin1')));
  socket.on('error', () => {});
  socket.on('close', () => {
    clearInterval(timer);
    s.closedAt = Date.now();
  });
  return s;
}

const allClosed = async (xs: Slow[], ms: number) => {
  const deadline = Date.now() + ms;
  while (xs.some((x) => x.closedAt === undefined) && Date.now() < deadline) await sleep(50);
  return xs.filter((x) => x.closedAt === undefined).length;
};

/**
 * The 1,000 slow clients of the slowloris test, in a worker thread: their
 * sockets and timers must not share the event loop that times the normal
 * calls (the node's), or the test would measure its own clients. Posts
 * { got, openedAt, closedAt } per connection once all are closed or `waitMs` passed.
 */
const SLOWLORIS_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { connect } = require('node:net');
const { port, from, head, trickle, everyMs, count, waitMs } = workerData;
const slow = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  // 1,000 within 250 ms, in batches of 100 (all at once would only measure the kernel's listen backlog).
  for (let i = 0; i < count; i++) {
    if (i % 100 === 0) await sleep(25);
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    const s = { openedAt: Date.now(), closedAt: undefined, got: '' };
    let n = 0;
    let timer;
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => socket.writable && socket.write(trickle[n++ % trickle.length]), everyMs);
    });
    socket.on('data', (d) => (s.got += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      s.closedAt = Date.now();
    });
    slow.push(s);
  }
  const deadline = Date.now() + waitMs;
  while (slow.some((x) => x.closedAt === undefined) && Date.now() < deadline) await sleep(50);
  parentPort.postMessage(slow.map((x) => ({ got: x.got.slice(0, 64), openedAt: x.openedAt, closedAt: x.closedAt })));
  process.exit(0);
})();
`;

test('1,000 slowloris connections from one address are capped and timed out; another client is served meanwhile', async () => {
  const rss0 = process.memoryUsage().rss;
  const worker = new Worker(SLOWLORIS_WORKER, {
    eval: true,
    workerData: {
      port: env.node.webPort,
      from: '127.0.0.2',
      head: 'POST /chat.v1.ChatService/ListChannels HTTP/1.1\r\nHost: x\r\n',
      trickle: 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n',
      everyMs: 100,
      count: 1000,
      waitMs: HEADERS_MS * 4,
    },
  });
  const done = new Promise<Array<{ got: string; openedAt: number; closedAt?: number }>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  // Connections over the cap are closed at once: sampled all along, the server never holds more than PER_PEER from
  // that address. (Counted on the server: a client's socket is "connected" as soon as the kernel has queued it for
  // accept, which on a busy box can be long before the server sees it.)
  let held = 0;
  const sampler = setInterval(() => {
    held = Math.max(held, env.node.webConnectionsFrom('127.0.0.2'));
  }, 10);
  // Normal grpc-web calls from 127.0.0.1 while the slow ones hold their sockets (from the first one the server sees).
  const seen = Date.now() + 10_000;
  while (env.node.webConnectionsFrom('127.0.0.2') === 0 && Date.now() < seen) await sleep(2);
  const latencies: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t1 = Date.now();
    const r = await grpcWebCall(base, '/chat.v1.ChatService/ListChannels', new Uint8Array(), a.token);
    latencies.push(Date.now() - t1);
    assert.equal(r.status, 0, `call ${i}: ${r.message}`);
    await sleep(20);
  }
  const slow = await done;
  const left = slow.filter((x) => x.closedAt === undefined).length;
  clearInterval(sampler);
  const timedOut = slow.filter((s) => s.got.startsWith('HTTP/1.1 408'));
  const refused = slow.filter((s) => s.got === '');
  const longest = Math.max(...slow.map((s) => (s.closedAt ?? Date.now()) - s.openedAt));
  console.log(
    `# slowloris: at most ${held} held open at once (cap ${PER_PEER}), ${refused.length} refused at once, ${timedOut.length} timed out (408), longest open ${longest} ms; ` +
      `20 normal calls meanwhile: max ${Math.max(...latencies)} ms; test process RSS +${Math.round((process.memoryUsage().rss - rss0) / 2 ** 20)} MB`,
  );
  assert.equal(left, 0, 'every slow connection was closed');
  assert.ok(held <= PER_PEER, `${held} slow connections were held open at once; the cap is ${PER_PEER}`);
  assert.equal(refused.length + timedOut.length, 1000);
  // Seen from the clients: only the connections the server kept lived to get the 408 (all 1,000 were opened within 250 ms).
  assert.ok(timedOut.length <= PER_PEER, `${timedOut.length} slow connections got a 408: more than the cap of ${PER_PEER} were kept`);
  assert.ok(longest < HEADERS_MS * 4, `a slow connection stayed open ${longest} ms`);
  assert.ok(Math.max(...latencies) < 1000, `normal calls took up to ${Math.max(...latencies)} ms`);
});

test('a body sent byte by byte is cut at the request timeout; an idle keep-alive connection is closed', async () => {
  const body = slowClient(
    '127.0.0.3',
    'POST /chat.v1.ChatService/ListChannels HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: 1000\r\n\r\n',
    'x',
    100,
  );
  const idle = slowClient('127.0.0.4', 'GET /no-such-file HTTP/1.1\r\nHost: x\r\n\r\n', '', 1_000_000);
  assert.equal(await allClosed([body, idle], REQUEST_MS * 3), 0, 'both connections were closed');
  const bodyMs = body.closedAt! - body.openedAt;
  const idleMs = idle.closedAt! - idle.openedAt;
  console.log(`# slow body closed after ${bodyMs} ms (request timeout ${REQUEST_MS}); idle keep-alive closed after ${idleMs} ms (${KEEPALIVE_MS})`);
  assert.ok(bodyMs >= REQUEST_MS - 100 && bodyMs < REQUEST_MS * 2.5, `slow body: ${bodyMs} ms`);
  assert.match(idle.got, /^HTTP\/1\.1 404/);
  assert.ok(idleMs >= KEEPALIVE_MS - 100 && idleMs < KEEPALIVE_MS * 3, `idle: ${idleMs} ms`);
});

test('a grpc-web server stream outlives the request timeout (only receiving the request is timed)', async () => {
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  const abort = new AbortController();
  const msg = SubscribeRequest.encode({ cursors: [] }).finish();
  const framed = Buffer.alloc(5 + msg.length);
  framed.writeUInt32BE(msg.length, 1);
  framed.set(msg, 5);
  const res = await fetch(base + '/chat.v1.ChatService/Subscribe', {
    method: 'POST',
    headers: { 'content-type': 'application/grpc-web+proto', authorization: `Bearer ${b.token}` },
    body: framed,
    signal: abort.signal,
  });
  let buf = Buffer.alloc(0);
  const bodies: string[] = [];
  const reading = (async () => {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
        const len = buf.readUInt32BE(1);
        if (buf[0] === 0) {
          const f = ServerFrame.decode(buf.subarray(5, 5 + len)).frame;
          if (f?.$case === 'message') bodies.push(f.message.body);
        }
        buf = buf.subarray(5 + len);
      }
    }
  })().catch(() => {});
  await sleep(REQUEST_MS + 1000);
  await a.send(ch, 'after the request timeout');
  const deadline = Date.now() + 3000;
  while (!bodies.includes('after the request timeout') && Date.now() < deadline) await sleep(20);
  abort.abort();
  await reading;
  assert.ok(bodies.includes('after the request timeout'), 'the stream was still open and delivered');
});
