import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials, status, type ServerWritableStream } from '@grpc/grpc-js';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { LoginRequest, LoginResponse, RegisterRequest, RegisterResponse } from '../../src/gen/chat/v1/account.js';
import { ListChannelsResponse, SendMessageRequest, ServerFrame, SetTypingRequest, SubscribeRequest } from '../../src/gen/chat/v1/chat.js';
import { pathToFileURL } from 'node:url';
import { startGrpcWebServer, type GrpcWebServer } from '../../src/transport/grpcWeb.js';
import { C, registerAndLogin, type Device } from '../support/client.js';
import { testNode } from '../support/node.js';

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'correct horse battery';

/** The repository's web/ folder, found from dist/test/e2e or test/e2e. */
function webDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'web', 'index.html'))) return join(dir, 'web');
  }
  throw new Error('web/index.html not found above ' + import.meta.url);
}

let env: Awaited<ReturnType<typeof testNode>>;
let base: string;
let browser: Browser | undefined;
before(async () => {
  // The node serves grpc-web and the web client itself, as on `make run`: no Envoy in between.
  env = await testNode();
  base = `http://127.0.0.1:${env.node.webPort}`;
});
after(async () => {
  await browser?.close();
  await env.stop();
});

// ---------- grpc-web wire helpers ----------

/** One uncompressed grpc-web data frame. */
function withLen(msg: Uint8Array) {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}
const fromBase64Chunks = (s: string) => Buffer.concat((s.match(/[^=]+=*/g) ?? []).map((p) => Buffer.from(p, 'base64')));

/** Splits a grpc-web body into data messages and the trailer map. */
function parseBody(body: Buffer) {
  const messages: Buffer[] = [];
  let trailers: Record<string, string> | undefined;
  let pos = 0;
  while (pos + 5 <= body.length) {
    const len = body.readUInt32BE(pos + 1);
    if (pos + 5 + len > body.length) break;
    const payload = body.subarray(pos + 5, pos + 5 + len);
    if (body[pos]! & 0x80) {
      trailers = {};
      for (const line of payload.toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) trailers[line.slice(0, i)] = line.slice(i + 1).trim();
      }
    } else {
      assert.equal(trailers, undefined, 'no data frame after the trailer frame');
      messages.push(Buffer.from(payload));
    }
    pos += 5 + len;
  }
  return { messages, trailers, rest: body.length - pos };
}

async function call(path: string, msg: Uint8Array, opts: { token?: string; text?: boolean; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = {
    'content-type': opts.text ? 'application/grpc-web-text' : 'application/grpc-web+proto',
    'x-grpc-web': '1',
    ...opts.headers,
  };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(base + path, {
    method: 'POST',
    headers,
    body: opts.text ? withLen(msg).toString('base64') : withLen(msg),
    signal: AbortSignal.timeout(10_000),
  });
  const raw = Buffer.from(await res.arrayBuffer());
  const parsed = parseBody(opts.text ? fromBase64Chunks(raw.toString('latin1')) : raw);
  assert.equal(parsed.rest, 0, 'no partial frame');
  return { res, ...parsed };
}

/** A raw HTTP/1.1 request (fetch would normalise paths and refuse some headers). */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<IncomingMessage & { body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Object.assign(res, { body: Buffer.concat(chunks) })));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads a grpc-web server stream incrementally; `until` waits (bounded) for a condition. */
class WebStream {
  messages: Buffer[] = [];
  trailers?: Record<string, string>;
  private buf = Buffer.alloc(0);
  readonly abort = new AbortController();
  readonly done: Promise<void>;

  constructor(path: string, msg: Uint8Array, token: string) {
    this.done = (async () => {
      const res = await fetch(base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/grpc-web+proto', authorization: `Bearer ${token}` },
        body: withLen(msg),
        signal: this.abort.signal,
      });
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        this.buf = Buffer.concat([this.buf, chunk]);
        const p = parseBody(this.buf);
        this.messages.push(...p.messages);
        this.trailers ??= p.trailers;
        this.buf = this.buf.subarray(this.buf.length - p.rest);
      }
    })().catch(() => {});
  }

  frames() {
    return this.messages.map((m) => ServerFrame.decode(m).frame!);
  }

  async until(pred: () => boolean, what: string, ms = 5000) {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames().map((f) => f.$case))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pair = async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `a_${t}`, ['d1'], PASSWORD)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`, ['d1'], PASSWORD)) as [Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  return { a, b, ch };
};

// ---------- protocol tests (no browser) ----------

test('grpc-web unary: binary and base64 text mode, status and message in the trailer frame', async () => {
  const userName = `w_${randomUUID().slice(0, 6)}`;
  const reg = await call('/chat.v1.AccountService/Register', RegisterRequest.encode({ userName, password: PASSWORD }).finish());
  assert.equal(reg.res.status, 200);
  assert.equal(reg.res.headers.get('content-type'), 'application/grpc-web+proto');
  assert.equal(reg.trailers?.['grpc-status'], '0');
  assert.equal(reg.messages.length, 1);
  const { userId } = RegisterResponse.decode(reg.messages[0]!);
  assert.ok(userId);

  const login = await call('/chat.v1.AccountService/Login', LoginRequest.encode({ userName, password: PASSWORD, deviceId: 'web-t' }).finish(), { text: true });
  assert.equal(login.res.headers.get('content-type'), 'application/grpc-web-text+proto');
  assert.equal(login.trailers?.['grpc-status'], '0');
  const token = LoginResponse.decode(login.messages[0]!);
  assert.equal(token.userId, userId);
  assert.equal(token.deviceId, 'web-t');

  const bad = await call('/chat.v1.AccountService/Login', LoginRequest.encode({ userName, password: 'wrong password!', deviceId: 'x' }).finish());
  assert.equal(bad.res.status, 200, 'errors travel in the trailers, not as HTTP statuses');
  assert.equal(bad.messages.length, 0);
  assert.equal(bad.trailers?.['grpc-status'], String(status.UNAUTHENTICATED));
  assert.ok(decodeURIComponent(bad.trailers!['grpc-message']!).length > 0);

  const anon = await call('/chat.v1.ChatService/SendMessage', SendMessageRequest.encode({ channelId: 'c', clientMsgId: randomUUID(), body: 'x' }).finish());
  assert.equal(anon.trailers?.['grpc-status'], String(status.UNAUTHENTICATED), 'no authorization header');
  const authed = await call(
    '/chat.v1.ChatService/SendMessage',
    SendMessageRequest.encode({ channelId: 'nope', clientMsgId: 'not-a-uuid', body: 'x' }).finish(),
    { token: token.accessToken },
  );
  assert.notEqual(authed.trailers?.['grpc-status'], String(status.UNAUTHENTICATED), 'the authorization header reached the server');
  assert.notEqual(authed.trailers?.['grpc-status'], '0');

  const garbage = await raw('POST', '/chat.v1.ChatService/ListChannels', { 'content-type': 'application/grpc-web' }, Buffer.from([0, 0, 0, 0, 9, 1]));
  assert.match(garbage.body.toString('latin1'), new RegExp(`grpc-status: ${status.INVALID_ARGUMENT}`));
});

test('grpc-web server stream: Subscribe replays, catches up, flushes each live frame; a disconnect cancels the upstream call', async () => {
  const { a, b, ch } = await pair();
  await a.send(ch, 'before');
  const sessions = env.node.core.hub.count();
  const s = new WebStream('/chat.v1.ChatService/Subscribe', SubscribeRequest.encode({ cursors: [{ channelId: ch, lastMessageId: 0 }] }).finish(), b.token);
  const bodies = () => s.frames().flatMap((f) => (f.$case === 'message' ? [f.message.body] : []));
  await s.until(() => s.frames().some((f) => f.$case === 'caughtUp'), 'caught_up');
  assert.deepEqual(bodies(), ['before']);
  assert.equal(env.node.core.hub.count(), sessions + 1);
  for (const body of ['live 1', 'live 2']) {
    await a.send(ch, body);
    await s.until(() => bodies().includes(body), `live message "${body}"`);
  }
  await s.until(() => s.frames().some((f) => f.$case === 'presence'), 'presence of the peer');
  s.abort.abort();
  await until(() => env.node.core.hub.count() === sessions, 'the session released after the browser went away');
  await s.done;
});

test('client-streaming and bidi methods (Connect) answer UNIMPLEMENTED with a clear message', async () => {
  const { a } = await pair();
  const r = await call('/chat.v1.ChatService/Connect', new Uint8Array(), { token: a.token });
  assert.equal(r.res.status, 200);
  assert.equal(r.trailers?.['grpc-status'], String(status.UNIMPLEMENTED));
  assert.match(decodeURIComponent(r.trailers!['grpc-message']!), /Subscribe/);
});

test('CORS: preflight, exposed grpc-status/grpc-message, configurable origins', async () => {
  const pre = await raw('OPTIONS', '/chat.v1.ChatService/SendMessage', {
    origin: 'http://app.example',
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization,content-type,x-grpc-web',
  });
  assert.equal(pre.statusCode, 204);
  assert.equal(pre.headers['access-control-allow-origin'], 'http://app.example');
  assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
  assert.match(String(pre.headers['access-control-allow-headers']), /authorization/);
  const post = await raw(
    'POST',
    '/chat.v1.ChatService/ListChannels',
    { origin: 'http://app.example', 'content-type': 'application/grpc-web+proto' },
    withLen(new Uint8Array()),
  );
  assert.equal(post.headers['access-control-allow-origin'], 'http://app.example');
  assert.match(String(post.headers['access-control-expose-headers']), /grpc-status.*grpc-message/);

  const strict = await startGrpcWebServer({ grpcAddress: env.node.address, host: '127.0.0.1', port: 0, allowedOrigins: ['https://chat.example'] });
  try {
    const at = (origin: string) =>
      new Promise<number>((resolve, reject) =>
        request(`http://127.0.0.1:${strict.port}/x.Y/Z`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
          .on('error', reject)
          .end(),
      );
    assert.equal(await at('https://chat.example'), 204);
    assert.equal(await at('https://evil.example'), 403);
  } finally {
    await strict.close();
  }
});

test('static files: the web client from the same origin, no directory traversal', async () => {
  const index = await raw('GET', '/');
  assert.equal(index.statusCode, 200);
  assert.match(String(index.headers['content-type']), /text\/html/);
  assert.match(index.body.toString(), /<title>grpc-chat<\/title>/);
  assert.match(String((await raw('GET', '/app.js')).headers['content-type']), /javascript/);
  for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/.hidden', '/nope.js']) {
    assert.equal((await raw('GET', p)).statusCode, 404, p);
  }
});

test('server streams respect backpressure: a browser that stops reading pauses the upstream; nothing is lost', async () => {
  // An upstream that writes as fast as grpc-js lets it, through a method the bridge does not know (forwarded as a server stream).
  const N = 40_000;
  let written = 0;
  let cancelled = 0;
  const id = (b: Buffer) => b;
  const upstream = new Server();
  const def = {
    path: '/test.Bulk/Stream',
    requestStream: false,
    responseStream: true,
    requestSerialize: id,
    requestDeserialize: id,
    responseSerialize: id,
    responseDeserialize: id,
  };
  upstream.addService(
    { stream: def },
    {
      stream: async (c: ServerWritableStream<Buffer, Buffer>) => {
        c.on('cancelled', () => cancelled++);
        const n = c.request.length ? c.request.readUInt32BE(0) : N;
        for (let i = 0; i < n && !c.cancelled; i++) {
          const m = Buffer.alloc(1024, i % 251);
          m.writeUInt32BE(i, 0);
          if (!c.write(m)) await once(c, 'drain');
          written = i + 1;
        }
        c.end();
      },
    },
  );
  const port = await new Promise<number>((ok, fail) => upstream.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  const bridge = await startGrpcWebServer({ grpcAddress: `127.0.0.1:${port}`, host: '127.0.0.1', port: 0 });
  try {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(
        `http://127.0.0.1:${bridge.port}/test.Bulk/Stream`,
        { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto' } },
        resolve,
      );
      req.on('error', reject);
      req.end(withLen(new Uint8Array()));
    });
    res.pause();
    await until(() => written > 0, 'the upstream starts writing');
    let before = -1;
    await until(
      async () => {
        const now = written;
        if (now === before) return true;
        before = now;
        await new Promise((r) => setTimeout(r, 300));
        return false;
      },
      'the upstream to stall',
      10_000,
    );
    assert.ok(written < N, `the upstream stalled at ${written} of ${N} messages while the browser was not reading`);
    const stalledAt = written;
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.resume();
    await once(res, 'end', { signal: AbortSignal.timeout(20_000) });
    const { messages, trailers } = parseBody(Buffer.concat(chunks));
    assert.equal(trailers?.['grpc-status'], '0');
    assert.equal(messages.length, N);
    assert.ok(
      messages.every((m, i) => m.readUInt32BE(0) === i),
      'in order, none lost',
    );
    console.log(`backpressure: upstream stalled after ${stalledAt} of ${N} 1 KiB messages`);

    // A browser that goes away mid-stream cancels the upstream call.
    const req = request(`http://127.0.0.1:${bridge.port}/test.Bulk/Stream`, { method: 'POST', headers: { 'content-type': 'application/grpc-web+proto' } });
    req.on('error', () => {});
    req.on('response', (r) => r.once('data', () => req.destroy()));
    req.end(withLen(new Uint8Array()));
    await until(() => cancelled === 1, 'upstream cancellation after the disconnect');
  } finally {
    await bridge.close();
    upstream.forceShutdown();
  }
});

test('web/proto.js agrees with the generated codecs both ways', async () => {
  const pb = await import(pathToFileURL(join(webDir(), 'proto.js')).href);
  const channel = {
    channelId: 'ch1',
    kind: 1,
    title: '',
    lastMessageId: 2 ** 40 + 3,
    lastReadMessageId: 3,
    unreadCount: 7,
    createdAtMs: 1_764_000_000_123,
    members: [
      { userId: 'u1', role: 2, userName: 'zoë' },
      { userId: 'u2', role: 1, userName: 'bob' },
    ],
  };
  assert.deepEqual(pb.decode(pb.ListChannelsResponse, ListChannelsResponse.encode({ channels: [channel], invitations: [] }).finish()), { channels: [channel] });
  const message = {
    channelId: 'ch1',
    id: 42,
    senderUserId: 'u1',
    senderDeviceId: 'web-1',
    clientMsgId: randomUUID(),
    body: 'héllo 👋',
    sentAtMs: 1_764_000_000_999,
    kind: 1,
  };
  assert.deepEqual(pb.decodeOneof(pb.ServerFrame, ServerFrame.encode({ frame: { $case: 'message', message } }).finish()), { case: 'message', value: message });
  const cursors = [
    { channelId: 'ch1', lastMessageId: 9 },
    { channelId: 'ch2', lastMessageId: 0 },
  ];
  const caught = pb.decodeOneof(pb.ServerFrame, ServerFrame.encode({ frame: { $case: 'caughtUp', caughtUp: { cursors } } }).finish());
  assert.deepEqual(caught, { case: 'caughtUp', value: { cursors } });
  const send = { channelId: 'ch1', clientMsgId: randomUUID(), body: 'ünïcode ✓' };
  assert.deepEqual(SendMessageRequest.decode(pb.toBytes(pb.SendMessageRequest, send)), send);
  assert.deepEqual(SubscribeRequest.decode(pb.toBytes(pb.SubscribeRequest, { cursors })), { cursors });
  for (const typing of [true, false])
    assert.deepEqual(SetTypingRequest.decode(pb.toBytes(pb.SetTypingRequest, { channelId: 'c', typing })), { channelId: 'c', typing });
});

// ---------- the browser ----------

async function openApp(ctx: BrowserContext, errors: string[]): Promise<Page> {
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  await page.goto(base + '/');
  return page;
}

async function loginAs(page: Page, userName: string) {
  await page.fill('#login-form input[name=user]', userName);
  await page.fill('#login-form input[name=password]', PASSWORD);
  assert.match(await page.inputValue('#login-form input[name=device]'), /^web-[0-9a-f]{8}$/);
  await page.click('#login-form button[type=submit]:not(#register)');
  await page.waitForSelector('#conn[data-state=live]');
}

const channelItem = (page: Page, name: string) => page.locator('#channels li', { hasText: name });
const messageBodies = (page: Page) => page.locator('#messages .msg:not(.pending) .body').allTextContents();
const waitMessage = (page: Page, body: string) => page.locator('#messages .msg:not(.pending) .body', { hasText: new RegExp(`^${body}$`) }).waitFor();

async function send(page: Page, body: string) {
  await page.fill('#composer input[name=body]', body);
  await page.press('#composer input[name=body]', 'Enter');
}

test('browser: two users chat live over grpc-web with unread counts, typing, presence, resume, and a native device in the same channel', {
  timeout: 120_000,
}, async () => {
  if (!existsSync(CHROMIUM))
    assert.fail(`Debian chromium is not installed at ${CHROMIUM}: run \`make infra\` (apt-get install -y chromium) to set up the browser tests`);
  const t = randomUUID().slice(0, 6);
  const [aliceNative] = (await registerAndLogin(env.api, `alice_${t}`, ['phone'], PASSWORD)) as [Device];
  const [bobNative] = (await registerAndLogin(env.api, `bob_${t}`, ['tablet'], PASSWORD)) as [Device];
  const alice = aliceNative.userName;
  const bob = bobNative.userName;

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const errors: string[] = [];
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  for (const c of [ctxA, ctxB]) c.setDefaultTimeout(10_000);
  let pa = await openApp(ctxA, errors);
  const pb = await openApp(ctxB, errors);
  await loginAs(pa, alice);
  await loginAs(pb, bob);

  // Bob opens the direct chat by user name; it shows up live on Alice's list (membership on her stream).
  await pb.fill('#direct-form input[name=peer]', alice);
  await pb.click('#direct-form button');
  await pb.locator('#conv-title', { hasText: alice }).waitFor();
  await channelItem(pa, bob).waitFor();
  await pb.locator('#peer-presence[data-state=online]').waitFor();

  // Unread counts while Alice looks elsewhere, cleared when she opens the chat.
  await send(pb, 'hi alice');
  await send(pb, 'are you there?');
  await channelItem(pa, bob).locator('.unread', { hasText: /^2$/ }).waitFor();
  await channelItem(pa, bob).click();
  await waitMessage(pa, 'are you there\\?');
  assert.deepEqual(await messageBodies(pa), ['hi alice', 'are you there?']);
  await until(async () => (await channelItem(pa, bob).locator('.unread').count()) === 0, 'unread badge cleared');
  await pa.locator('#peer-presence[data-state=online]').waitFor();

  // Typing shows on the other side, then the message arrives live and the indicator clears.
  await pa.locator('#composer input[name=body]').pressSequentially('hello b', { delay: 20 });
  await pb.locator('#typing', { hasText: `${alice} is typing` }).waitFor();
  await pa.locator('#composer input[name=body]').pressSequentially('ob');
  await pa.press('#composer input[name=body]', 'Enter');
  await waitMessage(pb, 'hello bob');
  await pb.locator('#typing', { hasText: /^$/ }).waitFor();

  // A native device of Alice (bidi Connect) in the same channel: both ways.
  const ch = (await aliceNative.openDirect(bob)).channel!.channelId;
  const phone = aliceNative.connect();
  await phone.caughtUp();
  phone.write({ $case: 'send', send: { channelId: ch, clientMsgId: randomUUID(), body: 'from alice phone' } });
  await waitMessage(pb, 'from alice phone');
  await waitMessage(pa, 'from alice phone');
  assert.equal(await pa.locator('#messages .msg.mine', { hasText: 'from alice phone' }).count(), 1, "Alice's browser shows her phone's message as hers");
  await send(pb, 'hi phone');
  await phone.until(() => phone.messages(ch).some((m) => m.body === 'hi phone'), 'the browser message on the native stream');
  phone.close();
  // Alice's open chat marks what she sees as read (MarkRead), for all her devices.
  await until(
    async () => (await aliceNative.chat(C.listChannels, {})).channels.find((c) => c.channelId === ch)?.unreadCount === 0,
    'the read marker of the open chat',
    5000,
  );

  // Alice goes away: Bob sees her offline; what Bob sends meanwhile is replayed when she comes back.
  await pa.close();
  await pb.locator('#peer-presence[data-state=offline]', { hasText: 'last seen' }).waitFor();
  await send(pb, 'while you were away');
  await waitMessage(pb, 'while you were away');
  pa = await openApp(ctxA, errors); // same storage: session, device id and cursors
  await pa.waitForSelector('#conn[data-state=live]');
  await channelItem(pa, bob).locator('.unread', { hasText: /^1$/ }).waitFor();
  await channelItem(pa, bob).click();
  await waitMessage(pa, 'while you were away');
  await pa.locator('#messages .msg.replay', { hasText: 'while you were away' }).waitFor();
  const expected = ['hi alice', 'are you there?', 'hello bob', 'from alice phone', 'hi phone', 'while you were away'];
  // Older messages come from ListHistory, which may answer after the replay.
  await until(async () => (await messageBodies(pa)).length >= expected.length, 'the history page', 5000).catch(() => {});
  assert.deepEqual(await messageBodies(pa), expected, 'history + replay + live, each message once');
  await pb.locator('#peer-presence[data-state=online]').waitFor();
  await send(pa, 'back');
  await waitMessage(pb, 'back');
  assert.deepEqual(await messageBodies(pb), [...expected, 'back']);

  assert.deepEqual(errors, []);
  await ctxA.close();
  await ctxB.close();
});
