import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { registerAndLogin, type Device } from '../support/client.js';
import { noteTestData } from '../support/ledger.js';
import { testNode, sleep } from '../support/node.js';
import { CutProxy } from '../support/cutProxy.js';

// The node reaches Cassandra through a proxy that this test cuts: the database disappears
// (connections dropped, new ones refused) mid-traffic and comes back with its data.
const proxy = new CutProxy({ host: '127.0.0.1', port: Number(process.env.CHAT_CASSANDRA_PORT ?? 9042) });
const run = 't' + randomUUID().slice(0, 8);
noteTestData({ keyspace: `chat_${run}`, prefix: `${run}:` });
let env: Awaited<ReturnType<typeof testNode>>;

before(async () => {
  const port = await proxy.listen();
  env = await testNode({
    CHAT_STORE: 'scylla',
    CHAT_JWT_SECRET: `test-secret-${run}-0123456789abcdef0123`,
    CHAT_CQL_CONTACT_POINTS: `127.0.0.1:${port}`,
    CHAT_CQL_KEYSPACE: `chat_${run}`,
    CHAT_REDIS_PREFIX: `${run}:`,
    CHAT_CQL_REQUEST_TIMEOUT_MS: '1500',
  });
});
after(async () => {
  await env?.stop();
  await proxy.close();
});

test('Cassandra goes away mid-traffic and comes back: no send is acknowledged without being stored, errors are UNAVAILABLE, full recovery', {
  timeout: 90_000,
}, async () => {
  const [a] = (await registerAndLogin(env.api, `a_${run}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${run}`)) as [Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  const acked: Array<{ id: number; body: string }> = [];
  const refused: Array<{ code: number; details: string }> = [];
  const retry: Array<{ body: string; clientMsgId: string }> = [];
  let phase: 'before' | 'down' | 'after' = 'before';
  const outcomes = { before: 0, down: 0, after: 0 };
  const sendOne = async (i: number) => {
    const body = `m${i}`;
    const clientMsgId = randomUUID();
    const started = Date.now();
    try {
      const r = await a.send(ch, body, clientMsgId);
      acked.push({ id: r.message!.id, body });
      outcomes[phase]++;
    } catch (e) {
      const err = e as { code: number; details: string };
      refused.push(err);
      retry.push({ body, clientMsgId });
      assert.ok(Date.now() - started < 10_000, 'a refused send does not hang');
    }
  };
  let i = 0;
  for (; i < 20; i++) await sendOne(i);
  await proxy.cut();
  phase = 'down';
  const downUntil = Date.now() + 3000;
  while (Date.now() < downUntil) {
    await sendOne(i++);
    await sleep(50); // a client keeps trying at a human pace
  }
  await proxy.restore();
  phase = 'after';
  // Recovery: the driver reconnects on its own; sends succeed again within a few seconds.
  const deadline = Date.now() + 30_000;
  while (outcomes.after < 20 && Date.now() < deadline) {
    await sendOne(i++);
    if (outcomes.after === 0) await sleep(100);
  }
  assert.equal(outcomes.before, 20);
  assert.ok(refused.length > 0, 'sends were refused while the database was away');
  assert.ok(
    refused.every((e) => e.code === status.UNAVAILABLE),
    `refusals are UNAVAILABLE: ${[...new Set(refused.map((e) => `${e.code} ${e.details}`))].join(' | ')}`,
  );
  assert.ok(outcomes.after >= 20, `recovered after the outage (${outcomes.after} sends acknowledged)`);

  // The client retries what was refused, with the same client_msg_id (a refused send may or may
  // not have reached storage: a timed-out write has an unknown outcome). Each ends stored once.
  for (const x of retry) {
    const r = await a.send(ch, x.body, x.clientMsgId as `${string}-${string}-${string}-${string}-${string}`);
    acked.push({ id: r.message!.id, body: x.body });
  }
  const stored = await b.allHistory(ch);
  const storedBodies = stored.map((m) => m.body);
  for (const x of acked) assert.equal(storedBodies.filter((s) => s === x.body).length, 1, `${x.body} stored once`);
  assert.equal(stored.length, acked.length, 'nothing but the acknowledged messages was stored, each once');
  assert.equal(stored.length, i, 'every message the client wrote is there: nothing lost');
  assert.ok(stored.every((m, k) => k === 0 || m.id > stored[k - 1]!.id));
});
