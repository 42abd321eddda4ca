import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { C, registerAndLogin, type Device } from '../support/client.js';
import { noteTestData } from '../support/ledger.js';
import { testNode, sleep } from '../support/node.js';
import { PrivateRedis } from '../support/redis.js';

// A redis-server of our own: these tests flush and restart it. It saves only when told
// to (SAVE), into a directory of its own, and loads that snapshot when it restarts.
const dir = mkdtempSync(join(tmpdir(), 'chat-redis-loss-'));
const redis = new PrivateRedis(6391, { dir });
const run = 't' + randomUUID().slice(0, 8);
noteTestData({ keyspace: `chat_${run}`, prefix: `${run}:` });
let env: Awaited<ReturnType<typeof testNode>>;

before(async () => {
  await redis.start();
  env = await testNode({
    CHAT_STORE: 'scylla',
    CHAT_JWT_SECRET: `test-secret-${run}-0123456789abcdef0123`,
    CHAT_REDIS_URL: redis.url,
    CHAT_CQL_KEYSPACE: `chat_${run}`,
    CHAT_SEQ_RESEED_MARGIN: '100',
  });
});
after(async () => {
  await env?.stop();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A 1:1 channel whose sends record the ids and bodies acknowledged, in order. */
async function chatPair(tag: string) {
  const [from] = (await registerAndLogin(env.api, `${tag}1_${run}`)) as [Device];
  const [to] = (await registerAndLogin(env.api, `${tag}2_${run}`)) as [Device];
  const ch = (await from.openDirect(to.userName)).channel!.channelId;
  const ids: number[] = [];
  const bodies: string[] = [];
  const send = async (body: string) => {
    const r = await from.send(ch, body);
    ids.push(r.message!.id);
    bodies.push(body);
  };
  /** What the receiver reads back from history, oldest first. */
  const stored = async () => (await to.history(ch, 0, 100)).messages.slice().reverse();
  return { from, ch, ids, bodies, send, stored };
}

/** ioredis reconnects on its own: sends succeed again within a few seconds. */
async function untilSendWorks(send: (body: string) => Promise<void>) {
  for (let i = 0; i < 50; i++) {
    try {
      await send('after restart');
      return true;
    } catch {
      await sleep(200);
    }
  }
  return false;
}

test('Redis loses its data (FLUSHALL, then a restart): ids keep increasing, nothing stored is overwritten, sends during the outage fail with UNAVAILABLE', {
  timeout: 60_000,
}, async () => {
  const { from: a, ch, ids, bodies, send, stored: history } = await chatPair('a');
  for (let i = 0; i < 5; i++) await send(`before flush ${i}`);

  const admin = new Redis(redis.url);
  await admin.flushall();
  admin.disconnect();
  for (let i = 0; i < 5; i++) await send(`after flush ${i}`);

  await redis.stop();
  await assert.rejects(
    () => a.send(ch, 'during outage'),
    (e: { code: number }) => e.code === status.UNAVAILABLE,
  );
  await redis.start();
  assert.ok(await untilSendWorks(send), 'sends work again after Redis came back');
  for (let i = 0; i < 3; i++) await send(`after restart ${i}`);

  for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `ids keep increasing: ${ids.join(',')}`);
  const stored = await history();
  assert.deepEqual(
    stored.map((m) => m.id),
    ids,
    'history holds exactly the acknowledged messages',
  );
  assert.deepEqual(
    stored.map((m) => m.body),
    bodies,
    'nothing was overwritten',
  );
  assert.ok(!stored.some((m) => m.body === 'during outage'), 'the refused send was not stored');
});

test('Redis restarts from an older snapshot (its counter goes back below stored history): ids continue past history + margin, nothing stored is overwritten', {
  timeout: 60_000,
}, async () => {
  const { ids, bodies, send, stored: history } = await chatPair('c');
  for (let i = 0; i < 5; i++) await send(`before snapshot ${i}`);
  // No reconnects: the SHUTDOWN below must never be re-sent to the restarted server.
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  admin.on('error', () => {});
  await admin.save();
  for (let i = 0; i < 5; i++) await send(`after snapshot ${i}`);
  await admin.shutdown('NOSAVE').catch(() => {}); // the connection closes instead of a reply
  admin.disconnect();
  await redis.stop();
  await redis.start(); // loads the snapshot: the counter says ids[4] while ids[5..9] are stored
  assert.ok(await untilSendWorks(send), 'sends work again after Redis came back');
  for (let i = 0; i < 3; i++) await send(`after restart ${i}`);

  for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `ids keep increasing: ${ids.join(',')}`);
  assert.ok(ids[10]! > ids[9]! + 100, `the first id after the restart skips the margin (100) past stored history: ${ids.join(',')}`);
  const stored = await history();
  assert.deepEqual(
    stored.map((m) => m.id),
    ids,
    'history holds exactly the acknowledged messages',
  );
  assert.deepEqual(
    stored.map((m) => m.body),
    bodies,
    'nothing was overwritten',
  );
});

/** Flushes the private Redis (FLUSHALL), as an operator mistake or a failover to an empty replica would. */
async function flush() {
  const admin = new Redis(redis.url);
  await admin.flushall();
  admin.disconnect();
}

/** kill -9, then an empty restart (no snapshot saved since the last test's files were removed). */
async function killAndRestartEmpty() {
  await redis.stop();
  rmSync(join(dir, 'dump.rdb'), { force: true });
  await redis.start();
}

for (const [name, lose] of [
  ['FLUSHALL', flush],
  ['kill -9 and an empty restart', killAndRestartEmpty],
] as const) {
  test(`exactly-once across Redis data loss (${name}): a resend of an acknowledged client_msg_id returns the original, history holds it once`, {
    timeout: 60_000,
  }, async () => {
    const { from, ch, send, stored } = await chatPair(name.startsWith('F') ? 'x' : 'k');
    for (let i = 0; i < 3; i++) await send(`before ${i}`);
    const clientMsgId = randomUUID();
    const first = await from.send(ch, 'the one', clientMsgId);
    assert.equal(first.duplicate, false);
    await lose();
    let again: Awaited<ReturnType<Device['send']>> | undefined;
    for (let i = 0; i < 50 && !again; i++) {
      again = await from.send(ch, 'the one', clientMsgId).catch(async () => void (await sleep(200)));
    }
    assert.ok(again, 'the resend is answered once Redis is back');
    assert.equal(again.duplicate, true, `the resend is a duplicate (got duplicate=false, id ${again.message!.id})`);
    assert.equal(again.message!.id, first.message!.id, 'the resend returns the original id');
    const copies = (await stored()).filter((m) => m.clientMsgId === clientMsgId);
    assert.equal(copies.length, 1, `history holds the message once (ids ${copies.map((m) => m.id).join(',')})`);
  });
}

test('after Redis lost its data, a send marked first_attempt skips the durable duplicate check; one that is not marked (or a resend) still makes it', {
  timeout: 60_000,
}, async () => {
  const { from, ch, send } = await chatPair('f');
  await send('before');
  await flush();
  assert.ok(await untilSendWorks(send), 'sends work again after the flush');
  const messages = env.node.ports.messages;
  const find = messages.findByClientMsgId.bind(messages);
  let lookups = 0;
  messages.findByClientMsgId = (u, c) => {
    lookups++;
    return find(u, c);
  };
  try {
    const ids = Array.from({ length: 10 }, () => randomUUID());
    const marked = [];
    for (const [i, clientMsgId] of ids.entries())
      marked.push(await from.client.chat.sendMessage({ channelId: ch, clientMsgId, body: `first ${i}`, firstAttempt: true }));
    assert.equal(lookups, 0, 'no durable lookup for first attempts');
    for (let i = 0; i < 10; i++) await from.send(ch, `unmarked ${i}`);
    assert.equal(lookups, 10, 'one durable lookup per unmarked send while the store cannot vouch');
    // A resend (never marked) of an acknowledged first attempt still finds the original.
    const again = await from.send(ch, 'first 0', ids[0]);
    assert.equal(again.duplicate, true);
    assert.equal(again.message!.id, marked[0]!.message!.id);
  } finally {
    messages.findByClientMsgId = find;
  }
});

test('after a FLUSHALL the counter jump is a recorded skip: a live receiver gets the next message within 2 s, unread counts the real messages', {
  timeout: 60_000,
}, async (t) => {
  const [from] = (await registerAndLogin(env.api, `s1_${run}`)) as [Device];
  const [to] = (await registerAndLogin(env.api, `s2_${run}`)) as [Device];
  const ch = (await from.openDirect(to.userName)).channel!.channelId;
  for (let i = 0; i < 3; i++) await from.send(ch, `before ${i}`);
  const live = to.connect();
  try {
    await live.caughtUp();
    await live.until(() => live.messages(ch).length === 3, 'the 3 earlier messages');
    await flush();
    const t0 = Date.now();
    const next = await from.send(ch, 'after flush');
    await live.until(() => live.messages(ch).length === 4, 'the message after the flush', 2000);
    const took = Date.now() - t0;
    t.diagnostic(`delivered ${took} ms after the send, id ${next.message!.id} after 3`);
    assert.equal(live.messages(ch)[3]!.id, next.message!.id);
    assert.ok(next.message!.id > 3 + 100, `the counter jumped past the margin (id ${next.message!.id})`);
    await from.send(ch, 'after flush 2');
    await live.until(() => live.messages(ch).length === 5, 'the second message after the flush', 2000);
    const view = (await to.chat(C.listChannels, {})).channels.find((c) => c.channelId === ch);
    assert.equal(view?.unreadCount, 5, `unread counts the 5 real messages, not the skipped ids (took ${took} ms)`);
  } finally {
    live.close();
  }
});
