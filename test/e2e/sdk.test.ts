import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ChatClient, type ChatSession, type SessionEvent } from '../../src/client/index.js';
import type { SendAck } from '../../src/gen/chat/v1/chat.js';
import { CutProxy } from '../support/cutProxy.js';
import { PausableProxy } from '../support/pausableProxy.js';
import { sleep, testNode } from '../support/node.js';

/** The client SDK (src/client) against a real node: resume, resend, refresh. */
const PW = 'correct horse battery';
const stops: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const s of stops.reverse()) await s();
});

async function node(env: Record<string, string> = {}) {
  const n = await testNode(env);
  stops.push(n.stop);
  return n;
}

/** Registers a user and logs one device in through the SDK. */
async function user(address: string, name: string, opts: ConstructorParameters<typeof ChatClient>[1] = {}) {
  const c = new ChatClient(address, opts);
  stops.push(() => c.close());
  const userName = `${name}_${randomUUID().slice(0, 6)}`;
  await c.accounts.register({ userName, password: PW });
  await c.login(userName, PW, 'd1');
  return { c, userName };
}

/** Collects a session's events in the background. */
function collect(s: ChatSession) {
  const events: SessionEvent[] = [];
  void (async () => {
    try {
      for await (const e of s) events.push(e);
    } catch {
      /* checked through the events */
    }
  })();
  const ids = (ch: string) => events.flatMap((e) => (e.$case === 'message' && e.message.channelId === ch ? [e.message.id] : []));
  return { events, ids };
}

async function until(pred: () => boolean, what: string, ms = 10_000) {
  for (const deadline = Date.now() + ms; !pred(); await sleep(20)) if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
}

test('sdk: a session resumes after its connection drops, with no message lost or repeated', async () => {
  const { node: n } = await node();
  const [host, port] = n.address.split(':');
  const proxy = new CutProxy({ host: host!, port: Number(port) });
  await proxy.listen();
  stops.push(() => proxy.close());
  const alice = await user(n.address, 'alice');
  const bob = await user(n.address, 'bob');
  const dm = (await bob.c.chat.openDirect({ peer: alice.userName })).channel!.channelId;

  // Alice reaches the node through the proxy; after the cut, PickServer (asked to the node) sends her there directly.
  const onProxy = new ChatClient(`127.0.0.1:${proxy.port}`, { tokens: alice.c.tokens });
  stops.push(() => onProxy.close());
  onProxy.userId = alice.c.userId;
  const s = onProxy.connect({ seeds: () => [n.address], backoffMs: () => 100 });
  const got = collect(s);
  await s.ready;
  const sent: number[] = [];
  for (let i = 0; i < 40; i++) {
    sent.push((await bob.c.chat.sendMessage({ channelId: dm, clientMsgId: randomUUID(), body: `m${i}`, replyToId: undefined })).message!.id);
    if (i === 15) await proxy.cut();
  }
  await until(() => got.ids(dm).length >= 40, 'all 40 messages');
  await sleep(200);
  assert.deepEqual(got.ids(dm), sent, 'every message once, in order');
  assert.equal(s.reconnects, 1);
  assert.equal(s.address, n.address, 'reconnected where PickServer said');
  assert.ok(got.events.some((e) => e.$case === 'disconnected'));
  assert.equal(got.events.filter((e) => e.$case === 'caughtUp').length, 2, 'caught up on each connection');
  await s.close();
});

test('sdk: sends left unacknowledged by a drop are resent with their client_msg_id and land exactly once', async () => {
  const { node: n } = await node();
  const [host, port] = n.address.split(':');
  const proxy = new PausableProxy({ host: host!, port: Number(port) });
  const via = await proxy.listen();
  const alice = await user(n.address, 'alice');
  const bob = await user(n.address, 'bob');
  const dm = (await alice.c.chat.openDirect({ peer: bob.userName })).channel!.channelId;

  const onProxy = new ChatClient(via, { tokens: alice.c.tokens });
  stops.push(() => onProxy.close());
  onProxy.userId = alice.c.userId;
  const s = onProxy.connect({ seeds: () => [n.address], backoffMs: () => 100 });
  const got = collect(s);
  await s.ready;
  proxy.pause(); // the server stores the sends, its acks never reach the client
  const acks: Array<Promise<SendAck>> = [];
  for (let i = 0; i < 10; i++) acks.push(s.send({ channelId: dm, body: `a${i}` }));
  const stored = async () => (await bob.c.chat.listHistory({ channelId: dm, beforeId: 0, limit: 50 })).messages.length;
  for (const deadline = Date.now() + 5000; (await stored()) < 10 && Date.now() < deadline; ) await sleep(50);
  assert.equal(await stored(), 10, 'stored before any ack arrived');
  assert.equal(s.unacked.size, 10);
  proxy.close(); // the connection drops with 10 sends unacknowledged

  const settled = await Promise.all(acks);
  assert.equal(s.unacked.size, 0);
  assert.equal(new Set(settled.map((a) => a.messageId)).size, 10, 'ten distinct messages');
  assert.ok(
    settled.every((a) => a.duplicate),
    'each answered as a duplicate of the stored one',
  );
  const history = (await bob.c.chat.listHistory({ channelId: dm, beforeId: 0, limit: 50 })).messages;
  assert.deepEqual(
    history.map((m) => m.body).reverse(),
    Array.from({ length: 10 }, (_, i) => `a${i}`),
    'stored exactly once each, in order',
  );
  const acksSeen = got.events.filter((e) => e.$case === 'sendAck').length;
  const ownReplayed = got.ids(dm).length;
  assert.equal(acksSeen + ownReplayed, 10, 'each send reported once (its ack, or its replay), never twice');
  await s.close();
});

test('sdk: access tokens refresh across expiry, one RefreshSession at a time, through unary calls and reconnects', async () => {
  const { node: n } = await node({ CHAT_TOKEN_TTL_MS: '1500' });
  const [host, port] = n.address.split(':');
  const proxy = new CutProxy({ host: host!, port: Number(port) });
  await proxy.listen();
  stops.push(() => proxy.close());
  let issued = 0;
  const alice = await user(`127.0.0.1:${proxy.port}`, 'alice', { onTokens: () => issued++ });
  assert.equal(issued, 1, 'login');
  const s = alice.c.connect({ seeds: () => [`127.0.0.1:${proxy.port}`], backoffMs: () => 100 });
  collect(s);
  await s.ready;
  for (let round = 1; round <= 2; round++) {
    await sleep(1700); // the access token has expired
    const results = await Promise.all(Array.from({ length: 8 }, () => alice.c.chat.listChannels({})));
    assert.equal(results.length, 8, 'eight concurrent calls after expiry all succeed');
    assert.equal(issued, 1 + round, 'one refresh for all of them (a second use of a refresh token would sign the device out)');
  }
  await sleep(1700);
  // The stream outlives its token; when it drops, the session reconnects with a refreshed one.
  await proxy.cut();
  await proxy.restore();
  await until(() => s.connected && s.reconnects === 1, 'reconnected');
  await s.ready;
  const bob = await user(n.address, 'bob');
  const dm = (await alice.c.chat.openDirect({ peer: bob.userName })).channel!.channelId;
  const ack = await s.send({ channelId: dm, body: 'after expiry' });
  assert.ok(ack.messageId > 0);
  assert.equal(issued, 4, 'the reconnect refreshed once more');
  assert.equal((await bob.c.chat.listHistory({ channelId: dm, beforeId: 0, limit: 5 })).messages[0]?.body, 'after expiry');
  await s.close();
});
