import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { credentials, loadPackageDefinition, status } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { bearer, C, registerAndLogin, rpc, type Device } from '../support/client.js';
import { DiscoveryServiceService as D } from '../../src/gen/chat/v1/discovery.js';
import { PresenceServiceService as P } from '../../src/gen/chat/v1/presence.js';
import { MessageKind } from '../../src/gen/chat/v1/common.js';
import { testNode } from '../support/node.js';
import { healthStatus } from '../support/health.js';
import { loadConfig } from '../../src/app/config.js';

const SVC = 'svc:moderation:0123456789abcdef0123';
let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode({ CHAT_SERVICE_KEYS: 'moderation=0123456789abcdef0123' });
});
after(async () => {
  await env.stop();
});

const require = createRequire(import.meta.url);
type AnyClient = { ServerReflectionInfo(): unknown; close(): void };

test('grpc.health.v1 answers SERVING and server reflection lists the chat services', async () => {
  assert.equal(await healthStatus(env.node.address), 'SERVING');

  const reflProto = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto');
  const r = loadPackageDefinition(loadSync(reflProto)) as unknown as {
    grpc: { reflection: { v1alpha: { ServerReflection: new (a: string, c: unknown) => AnyClient } } };
  };
  const refl = new r.grpc.reflection.v1alpha.ServerReflection(env.node.address, credentials.createInsecure());
  const stream = refl.ServerReflectionInfo() as unknown as NodeJS.ReadWriteStream & { write(x: object): void; end(): void };
  const names = await new Promise<string[]>((resolve, reject) => {
    stream.on('data', (m: { listServicesResponse?: { service: Array<{ name: string }> } }) => resolve(m.listServicesResponse!.service.map((s) => s.name)));
    stream.on('error', reject);
    stream.write({ listServices: '' });
  });
  stream.end();
  refl.close();
  for (const s of [
    'chat.v1.ChatService',
    'chat.v1.AccountService',
    'chat.v1.PresenceService',
    'chat.v1.DiscoveryService',
    'chat.v1.SafetyService',
    'grpc.health.v1.Health',
  ]) {
    assert.ok(names.includes(s), s);
  }
});

test('a backend service posts a system message, reads history and looks up presence with its service credential', async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  const ch = (await a.createGroup('ops', [b.userName])).channel!.channelId;
  const bs = b.connect();
  await bs.caughtUp();
  const posted = await rpc(env.api.chat, C.sendMessage, { channelId: ch, clientMsgId: randomUUID(), body: 'maintenance at 22:00' }, bearer(SVC));
  assert.equal(posted.message!.kind, MessageKind.MESSAGE_KIND_SYSTEM);
  assert.equal(posted.message!.senderUserId, 'svc:moderation');
  await bs.until(() => bs.messages(ch).some((m) => m.kind === MessageKind.MESSAGE_KIND_SYSTEM), 'system message');
  const hist = await rpc(env.api.chat, C.listHistory, { channelId: ch, beforeId: 0, limit: 10 }, bearer(SVC));
  assert.equal(hist.messages[0]!.body, 'maintenance at 22:00');
  const pres = await rpc(env.api.presence, P.getPresence, { userIds: [a.userId, b.userId] }, bearer(SVC));
  assert.equal(pres.presences.length, 2);
  await assert.rejects(
    () => rpc(env.api.chat, C.listHistory, { channelId: ch, beforeId: 0, limit: 10 }, bearer('svc:moderation:wrong-secret-wrong')),
    (e: { code: number }) => e.code === status.UNAUTHENTICATED,
  );
  // A service cannot act as a user (no channels of its own, no streams).
  await assert.rejects(
    () => rpc(env.api.chat, C.listChannels, {}, bearer(SVC)),
    (e: { code: number }) => e.code === status.PERMISSION_DENIED,
  );
  bs.close();
});

test('PickServer names this node on the embedded default', async () => {
  const r = await rpc(env.api.discovery, D.pickServer, { regionHint: '' });
  assert.equal(r.server!.address, env.node.address);
  assert.equal(r.server!.nodeId, 'node-1');
});

test('configuration fails fast naming the bad variable', () => {
  assert.throws(() => loadConfig({ CHAT_PORT: 'abc' }), /CHAT_PORT/);
  assert.throws(() => loadConfig({ CHAT_STORE: 'postgres' }), /CHAT_STORE/);
  assert.throws(() => loadConfig({ CHAT_PUSH: 'webhook' }), /CHAT_PUSH_WEBHOOK_URL/);
  assert.throws(() => loadConfig({ CHAT_PROT: '1' }), /unknown configuration variable\(s\): CHAT_PROT/);
  assert.equal(loadConfig({}).CHAT_PORT, 50051);
});

test('Prometheus /metrics is scraped: grpc_server_* and chat_* series move with traffic', async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `ma_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `mb_${t}`)) as [Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  const bs = b.connect();
  await bs.caughtUp();
  for (let i = 0; i < 5; i++) await a.send(ch, `m${i}`);
  await bs.until(() => bs.messages(ch).length === 5, 'five messages');
  const text = await (await fetch(`http://127.0.0.1:${env.node.metricsPort}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  assert.ok(value(/grpc_server_handled_total\{grpc_type="unary",grpc_service="chat.v1.ChatService",grpc_method="SendMessage",grpc_code="OK"\} (\d+)/) >= 5);
  assert.ok(value(/grpc_server_started_total\{grpc_type="bidi_stream",grpc_service="chat.v1.ChatService",grpc_method="Connect"\} (\d+)/) >= 1);
  assert.ok(value(/chat_connected_streams (\d+)/) >= 1);
  assert.ok(value(/chat_messages_accepted_total (\d+)/) >= 5);
  assert.ok(value(/chat_messages_delivered_total (\d+)/) >= 5);
  assert.ok(value(/chat_delivery_latency_seconds_count (\d+)/) >= 5);
  assert.ok(value(/chat_fanout_size_count (\d+)/) >= 5);
  assert.match(text, /grpc_server_handling_seconds_bucket/);
  assert.match(text, /process_resident_memory_bytes/);
  bs.close();
});
