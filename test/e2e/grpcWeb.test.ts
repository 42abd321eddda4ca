import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { Server, ServerCredentials, status, type ServerWritableStream } from '@grpc/grpc-js';
import { Code, ConnectError } from '@connectrpc/connect';
import { Agent, fetch as undiciFetch } from 'undici';
import { LoginRequest, LoginResponse } from '../../src/gen/chat/v1/account.js';
import { startGrpcWebServer } from '../../src/transport/grpcWeb.js';
import { registerAndLogin, type Device } from '../support/client.js';
import { grpcWebFrame, parseGrpcWebBody } from '../support/grpcWebCall.js';
import { testNode } from '../support/node.js';
import { webClients } from '../support/webClient.js';

// The built-in grpc-web endpoint: the generated browser client (connect-web) in
// Node for the calls, raw bytes only where the bridge's own framing is tested.

const PASSWORD = 'correct horse battery';
let env: Awaited<ReturnType<typeof testNode>>;
let base: string;
before(async () => {
  env = await testNode();
  base = `http://127.0.0.1:${env.node.webPort}`;
});
after(() => env.stop());

const fromBase64Chunks = (s: string) => Buffer.concat((s.match(/[^=]+=*/g) ?? []).map((p) => Buffer.from(p, 'base64')));

/** A raw HTTP/1.1 request (fetch would normalise paths and refuse some headers). */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer, at = base): Promise<IncomingMessage & { body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(`${at}${path}`, { method, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Object.assign(res, { body: Buffer.concat(chunks) })));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function until(pred: () => boolean, what: string, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!pred()) {
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

const codeOf = (e: unknown) => ConnectError.from(e).code;

test('grpc-web unary through the generated client: results, status codes and messages from the trailer frame, the bearer token', async () => {
  const web = webClients(base);
  const userName = `w_${randomUUID().slice(0, 6)}`;
  const { userId } = await web.account.register({ userName, password: PASSWORD });
  assert.ok(userId);
  const token = await web.account.login({ userName, password: PASSWORD, deviceId: 'web-t' });
  assert.equal(token.userId, userId);
  assert.equal(token.deviceId, 'web-t');
  assert.ok(token.expiresAtMs > BigInt(Date.now()), 'int64 fields arrive as bigint');

  const bad = await web.account.login({ userName, password: 'wrong password!', deviceId: 'x' }).catch((e: unknown) => ConnectError.from(e));
  assert.ok(bad instanceof ConnectError);
  assert.equal(bad.code, Code.Unauthenticated);
  assert.ok(bad.rawMessage.length > 0);

  const send = { channelId: 'c', clientMsgId: randomUUID(), body: 'x' };
  assert.equal(await web.chat.sendMessage(send).catch(codeOf), Code.Unauthenticated, 'no authorization header');
  const authed = webClients(base, token.accessToken);
  const code = await authed.chat.sendMessage({ channelId: 'nope', clientMsgId: 'not-a-uuid', body: 'x' }).catch(codeOf);
  assert.equal(code, Code.InvalidArgument, 'the authorization header reached the server, which checked the request');
  assert.deepEqual((await authed.chat.listChannels({})).channels, []);
});

test('grpc-web text mode (base64) and malformed bodies, on the wire', async () => {
  const userName = `t_${randomUUID().slice(0, 6)}`;
  await webClients(base).account.register({ userName, password: PASSWORD });
  const body = grpcWebFrame(LoginRequest.encode({ userName, password: PASSWORD, deviceId: 'web-t' }).finish()).toString('base64');
  const login = await raw('POST', '/chat.v1.AccountService/Login', { 'content-type': 'application/grpc-web-text' }, Buffer.from(body));
  assert.equal(login.statusCode, 200);
  assert.equal(login.headers['content-type'], 'application/grpc-web-text+proto');
  const parsed = parseGrpcWebBody(fromBase64Chunks(login.body.toString('latin1')));
  assert.equal(parsed.rest, 0, 'no partial frame');
  assert.equal(parsed.trailers?.['grpc-status'], '0');
  assert.equal(LoginResponse.decode(parsed.messages[0]!).deviceId, 'web-t');

  const garbage = await raw('POST', '/chat.v1.ChatService/ListChannels', { 'content-type': 'application/grpc-web' }, Buffer.from([0, 0, 0, 0, 9, 1]));
  assert.match(garbage.body.toString('latin1'), new RegExp(`grpc-status: ${status.INVALID_ARGUMENT}`));
});

test('grpc-web server stream through the generated client: Subscribe replays, catches up, flushes each live frame; abort cancels the upstream call', async () => {
  const { a, b, ch } = await pair();
  await a.send(ch, 'before');
  const sessions = env.node.core.hub.count();
  const abort = new AbortController();
  // Its own connection pool, so the test can close the connection the way a browser does when a fetch is
  // aborted: Node's fetch (undici) leaves an aborted response's socket open until bytes arrive for it, and
  // sometimes longer (a clean-clone CI run saw it outlive 25 frames over 5 s).
  const agent = new Agent();
  const viaAgent = ((url: string, init: RequestInit) => undiciFetch(url, { ...init, dispatcher: agent } as never)) as unknown as typeof fetch;
  const kinds: string[] = [];
  const bodies: string[] = [];
  const reading = (async () => {
    for await (const f of webClients(base, b.token, viaAgent).chat.subscribe({ cursors: [{ channelId: ch, lastMessageId: 0n }] }, { signal: abort.signal })) {
      kinds.push(f.frame.case ?? '?');
      if (f.frame.case === 'message') bodies.push(f.frame.value.body);
    }
  })().catch((e: unknown) => codeOf(e));
  await until(() => kinds.includes('caughtUp'), 'caught_up');
  assert.deepEqual(bodies, ['before']);
  assert.equal(env.node.core.hub.count(), sessions + 1);
  for (const body of ['live 1', 'live 2']) {
    await a.send(ch, body);
    await until(() => bodies.includes(body), `live message "${body}"`);
  }
  await until(() => kinds.includes('presence'), 'presence of the peer');
  abort.abort();
  assert.equal(await reading, Code.Canceled);
  await agent.destroy(); // the browser's connection goes away
  await until(() => env.node.core.hub.count() === sessions, 'the bridge to cancel the upstream call', 2000).catch(() => {});
  assert.equal(env.node.core.hub.count(), sessions, 'the session released after the browser went away');
});

test('client-streaming and bidi methods (Connect) answer UNIMPLEMENTED with a clear message', async () => {
  const { a } = await pair();
  const r = await raw(
    'POST',
    '/chat.v1.ChatService/Connect',
    { 'content-type': 'application/grpc-web+proto', authorization: `Bearer ${a.token}` },
    grpcWebFrame(new Uint8Array()),
  );
  assert.equal(r.statusCode, 200);
  const { trailers } = parseGrpcWebBody(r.body);
  assert.equal(trailers?.['grpc-status'], String(status.UNIMPLEMENTED));
  assert.match(decodeURIComponent(trailers!['grpc-message']!), /Subscribe/);
});

test('CORS: preflight, exposed grpc-status/grpc-message, configurable origins', async () => {
  const pre = await raw('OPTIONS', '/chat.v1.ChatService/SendMessage', {
    origin: 'http://app.example',
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization,content-type,x-grpc-web,x-user-agent',
  });
  assert.equal(pre.statusCode, 204);
  assert.equal(pre.headers['access-control-allow-origin'], 'http://app.example');
  assert.match(String(pre.headers['access-control-allow-methods']), /POST/);
  assert.match(String(pre.headers['access-control-allow-headers']), /authorization/);
  const post = await raw(
    'POST',
    '/chat.v1.ChatService/ListChannels',
    { origin: 'http://app.example', 'content-type': 'application/grpc-web+proto' },
    grpcWebFrame(new Uint8Array()),
  );
  assert.equal(post.headers['access-control-allow-origin'], 'http://app.example');
  assert.match(String(post.headers['access-control-expose-headers']), /grpc-status.*grpc-message/);

  const strict = await startGrpcWebServer({ grpcAddress: env.node.address, host: '127.0.0.1', port: 0, allowedOrigins: ['https://chat.example'] });
  try {
    const at = async (origin: string) =>
      (await raw('OPTIONS', '/x.Y/Z', { origin, 'access-control-request-method': 'POST' }, undefined, `http://127.0.0.1:${strict.port}`)).statusCode;
    assert.equal(await at('https://chat.example'), 204);
    assert.equal(await at('https://evil.example'), 403);
  } finally {
    await strict.close();
  }
});

test('static files: the bundled web client from the same origin, no directory traversal', async () => {
  const index = await raw('GET', '/');
  assert.equal(index.statusCode, 200);
  assert.match(String(index.headers['content-type']), /text\/html/);
  assert.match(index.body.toString(), /<title>grpc-chat<\/title>/);
  assert.match(index.body.toString(), /src="dist\/app\.js"/);
  const bundle = await raw('GET', '/dist/app.js');
  assert.equal(bundle.statusCode, 200, 'web/dist/app.js is built (make web)');
  assert.match(String(bundle.headers['content-type']), /javascript/);
  assert.ok(bundle.body.includes('application/grpc-web+proto'), 'the bundle carries the gRPC-web transport');
  for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/.hidden', '/nope.js', '/proto.js', '/grpcweb.js']) {
    assert.equal((await raw('GET', p)).statusCode, 404, p);
  }
});

/** An upstream that writes `n` 1 KiB messages (numbered) as fast as grpc-js lets it, through a method the bridge does not know. */
async function bulkUpstream(n: number) {
  const stats = { written: 0, cancelled: 0 };
  const id = (b: Buffer) => b;
  const server = new Server();
  const def = {
    path: '/test.Bulk/Stream',
    requestStream: false,
    responseStream: true,
    requestSerialize: id,
    requestDeserialize: id,
    responseSerialize: id,
    responseDeserialize: id,
  };
  server.addService(
    { stream: def },
    {
      stream: async (c: ServerWritableStream<Buffer, Buffer>) => {
        c.on('cancelled', () => stats.cancelled++);
        for (let i = 0; i < n && !c.cancelled; i++) {
          const m = Buffer.alloc(1024, i % 251);
          m.writeUInt32BE(i, 0);
          if (!c.write(m)) await once(c, 'drain');
          stats.written = i + 1;
        }
        c.end();
      },
    },
  );
  const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  return { port, stats, stop: () => server.forceShutdown() };
}

test('server streams respect backpressure: a browser that stops reading pauses the upstream; nothing is lost', async () => {
  const N = 40_000;
  const up = await bulkUpstream(N);
  const bridge = await startGrpcWebServer({ grpcAddress: `127.0.0.1:${up.port}`, host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${bridge.port}/test.Bulk/Stream`;
  const headers = { 'content-type': 'application/grpc-web+proto' };
  try {
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      request(url, { method: 'POST', headers }, resolve).on('error', reject).end(grpcWebFrame(new Uint8Array())),
    );
    res.pause();
    await until(() => up.stats.written > 0, 'the upstream starts writing');
    let seen = -1;
    while (seen !== up.stats.written) {
      seen = up.stats.written;
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(up.stats.written < N, `the upstream stalled at ${up.stats.written} of ${N} messages while the browser was not reading`);
    console.log(`backpressure: upstream stalled after ${up.stats.written} of ${N} 1 KiB messages`);
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.resume();
    await once(res, 'end', { signal: AbortSignal.timeout(20_000) });
    const { messages, trailers, afterTrailers } = parseGrpcWebBody(Buffer.concat(chunks));
    assert.equal(trailers?.['grpc-status'], '0');
    assert.equal(afterTrailers, 0, 'no data frame after the trailer frame');
    assert.equal(messages.length, N);
    assert.ok(
      messages.every((m, i) => m.readUInt32BE(0) === i),
      'in order, none lost',
    );

    // A browser that goes away mid-stream cancels the upstream call.
    const req = request(url, { method: 'POST', headers });
    req.on('error', () => {});
    req.on('response', (r) => r.once('data', () => req.destroy()));
    req.end(grpcWebFrame(new Uint8Array()));
    await until(() => up.stats.cancelled === 1, 'upstream cancellation after the disconnect');
  } finally {
    await bridge.close();
    up.stop();
  }
});
