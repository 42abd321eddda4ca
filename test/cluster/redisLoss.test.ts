import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { registerAndLogin, type Device } from '../support/client.js';
import { testNode, sleep } from '../support/node.js';
import { PrivateRedis } from '../support/redis.js';

// A redis-server of our own: this test flushes and restarts it.
const redis = new PrivateRedis(6391);
const run = 't' + randomUUID().slice(0, 8);
let env: Awaited<ReturnType<typeof testNode>>;

before(async () => {
  await redis.start();
  env = await testNode({ CHAT_STORE: 'scylla', CHAT_REDIS_URL: redis.url, CHAT_CQL_KEYSPACE: `chat_${run}`, CHAT_SEQ_RESEED_MARGIN: '100' });
});
after(async () => {
  await env?.stop();
  await redis.stop();
});

test('Redis loses its data (FLUSHALL, then a restart): ids keep increasing, nothing stored is overwritten, sends during the outage fail with UNAVAILABLE', { timeout: 60_000 }, async () => {
  const [a] = (await registerAndLogin(env.api, `a_${run}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${run}`)) as [Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  const ids: number[] = [];
  const bodies: string[] = [];
  const send = async (body: string) => {
    const r = await a.send(ch, body);
    ids.push(r.message!.id);
    bodies.push(body);
  };
  for (let i = 0; i < 5; i++) await send(`before flush ${i}`);

  const admin = new Redis(redis.url);
  await admin.flushall();
  admin.disconnect();
  for (let i = 0; i < 5; i++) await send(`after flush ${i}`);

  await redis.stop();
  await assert.rejects(() => a.send(ch, 'during outage'), (e: { code: number }) => e.code === status.UNAVAILABLE);
  await redis.start();
  // ioredis reconnects on its own; sends succeed again within a few seconds.
  let recovered = false;
  for (let i = 0; i < 50 && !recovered; i++) {
    try {
      await send('after restart');
      recovered = true;
    } catch {
      await sleep(200);
    }
  }
  assert.ok(recovered, 'sends work again after Redis came back');
  for (let i = 0; i < 3; i++) await send(`after restart ${i}`);

  for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `ids keep increasing: ${ids.join(',')}`);
  const hist = await b.history(ch, 0, 100);
  const stored = hist.messages.slice().reverse();
  assert.deepEqual(stored.map((m) => m.id), ids, 'history holds exactly the acknowledged messages');
  assert.deepEqual(stored.map((m) => m.body), bodies, 'nothing was overwritten');
  assert.ok(!stored.some((m) => m.body === 'during outage'), 'the refused send was not stored');
});
