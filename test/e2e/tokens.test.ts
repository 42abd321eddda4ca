import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { status } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { loadConfig } from '../../src/app/config.js';
import { C, bearer, registerAndLogin, rpc, type Device } from '../support/client.js';
import { TEST_DEFAULTS, testNode } from '../support/node.js';
import { NodeProcess } from '../support/proc.js';

/** Regression (issue 10, item 5, tokens and service tokens). */
let env: Awaited<ReturnType<typeof testNode>>;
let a: Device;
let b: Device;
let ch: string;
const SECRET = 'z'.repeat(40);
const SERVICE_SECRET = 'part:one:part-two-0123456789';

before(async () => {
  env = await testNode({ CHAT_JWT_SECRET: SECRET, CHAT_SERVICE_KEYS: `bot=${SERVICE_SECRET}` });
  const t = randomUUID().slice(0, 6);
  [a] = (await registerAndLogin(env.api, `ta_${t}`)) as [Device];
  [b] = (await registerAndLogin(env.api, `tb_${t}`)) as [Device];
  ch = (await a.openDirect(b.userName)).channel!.channelId;
});
after(async () => {
  await env.stop();
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => status.OK,
    (e: { code: number; details: string }) => `${status[e.code]}: ${e.details}`,
  );

function sign(sub: string, exp: number | undefined) {
  const jwt = new SignJWT({ did: 'd1' }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuer('grpc-chat').setAudience('grpc-chat').setIssuedAt();
  if (exp !== undefined) jwt.setExpirationTime(exp);
  return jwt.sign(new TextEncoder().encode(SECRET));
}

test('a token without exp is refused', async () => {
  assert.equal(
    await code(rpc(env.api.chat, C.listChannels, {}, bearer(await sign(a.userId, undefined)))),
    'UNAUTHENTICATED: access token has no expiry (exp); log in again',
  );
  assert.equal(await code(rpc(env.api.chat, C.listChannels, {}, bearer(await sign(a.userId, Math.floor(Date.now() / 1000) + 60)))), status.OK);
});

test('a token for a user that has no account (any more) is refused, on unary calls and streams', async () => {
  const ghost = await sign('u_' + randomUUID().replaceAll('-', ''), Math.floor(Date.now() / 1000) + 3600);
  assert.equal(await code(rpc(env.api.chat, C.listChannels, {}, bearer(ghost))), 'UNAUTHENTICATED: the account of this access token no longer exists');
  const s = env.api.chat.subscribe({ cursors: [] }, bearer(ghost));
  const got = await new Promise<number>((r) => {
    s.on('error', (e: { code: number }) => r(e.code));
    s.on('data', () => {});
  });
  assert.equal(got, status.UNAUTHENTICATED);
  // A known account is answered from the cache: no store read per call.
  let reads = 0;
  const accounts = env.node.ports.accounts;
  const byId = accounts.byId.bind(accounts);
  accounts.byId = (id) => {
    reads++;
    return byId(id);
  };
  try {
    for (let i = 0; i < 20; i++) await a.history(ch);
  } finally {
    accounts.byId = byId;
  }
  assert.equal(reads, 0);
});

test('service tokens: exactly svc:<name>:<secret>, the secret may contain ":"', async () => {
  const svc = (token: string) => rpc(env.api.chat, C.sendMessage, { channelId: ch, clientMsgId: randomUUID(), body: 'from the bot' }, bearer(token));
  const sent = await svc(`svc:bot:${SERVICE_SECRET}`);
  assert.equal(sent.message!.senderUserId, 'svc:bot');
  for (const bad of [`svc:bot:${SERVICE_SECRET}:more`, 'svc:bot:part', `svc:bot:${SERVICE_SECRET.slice(0, -1)}`, `svc:other:${SERVICE_SECRET}`, 'svc:bot:']) {
    assert.equal(await code(svc(bad)), 'UNAUTHENTICATED: service credential is invalid', bad);
  }
});

test('CHAT_STORE=scylla without CHAT_JWT_SECRET does not start, and says why', async () => {
  assert.throws(() => loadConfig({ CHAT_STORE: 'scylla' }), /CHAT_JWT_SECRET: required when CHAT_STORE=scylla \(a random key per process/);
  const node = new NodeProcess({ ...TEST_DEFAULTS, CHAT_HOST: '127.0.0.1', CHAT_STORE: 'scylla', CHAT_JWT_SECRET: '' });
  const exit = await Promise.race([node.exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
  node.kill('SIGKILL');
  assert.equal(exit, 2, node.log);
  assert.match(node.log, /CHAT_JWT_SECRET: required when CHAT_STORE=scylla/);
});

test('a node that fails to start (its port is taken) exits non-zero and says why', async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  const node = new NodeProcess({ ...TEST_DEFAULTS, CHAT_HOST: '127.0.0.1', CHAT_PORT: String(port) });
  const exit = await Promise.race([node.exited, new Promise((r) => setTimeout(() => r('still running'), 15_000))]);
  node.kill('SIGKILL');
  busy.close();
  assert.equal(exit, 1, node.log);
  assert.match(node.log, /failed to start: .*(EADDRINUSE|No address added|address)/i);
});
