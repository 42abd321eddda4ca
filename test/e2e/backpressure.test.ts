import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Api, Device, registerAndLogin } from '../support/client.js';
import { testNode, sleep } from '../support/node.js';
import { PausableProxy } from '../support/pausableProxy.js';

const LIMIT = 64;
let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode({ CHAT_OUTBOUND_QUEUE_LIMIT: String(LIMIT) });
});
after(async () => {
  await env.stop();
});

test('a stream that does not read is cut off at the queue bound with RESOURCE_EXHAUSTED and resumes from its cursor with nothing lost', async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  const [slow, fast] = (await registerAndLogin(env.api, `b_${t}`, ['slow', 'fast'])) as [Device, Device];
  const ch = (await a.openDirect(slow.userName)).channel!.channelId;
  const baseSubs = env.node.ports.fanout.subscriptionCount();
  const baseSessions = env.node.core.hub.count();

  // The slow device reaches the node through a proxy that can stop delivering bytes to it.
  const [host, port] = env.node.address.split(':');
  const proxy = new PausableProxy({ host: host!, port: Number(port) });
  const slowVia = new Device(new Api(await proxy.listen()), slow.userId, slow.userName, slow.deviceId, slow.token);
  const stalled = slowVia.connect();
  await stalled.caughtUp();
  const quick = fast.connect();
  await quick.caughtUp();
  proxy.pause(); // the network stops: HTTP/2 flow control soon blocks the server's writes

  const N = 400;
  const body = 'z'.repeat(8000);
  for (let i = 0; i < N; i++) await a.send(ch, `${i} ${body}`);
  await quick.until(() => quick.messages(ch).length === N, 'every message on the fast device', 15000);
  const counts = env.node.metrics.counts;
  assert.ok(counts.slowConsumerCutoffs >= 1, 'the slow stream was cut off');
  assert.ok(counts.outboxHighWater <= LIMIT, `queue never grew past the bound (high water ${counts.outboxHighWater})`);
  assert.match(await env.node.metrics.metrics(), /^chat_queue_drops_total [1-9]/m, 'the cut-off is exported');
  // The server released the slow session at once, though the client has not read a byte.
  await sleep(50);
  assert.equal(env.node.core.hub.count(), baseSessions + 1, 'only the fast session remains');

  // The network comes back: the client reads what was in flight, then the status.
  proxy.resume();
  await stalled.until(() => !!stalled.error, 'the error status', 10000);
  assert.equal(stalled.error!.code, status.RESOURCE_EXHAUSTED);
  assert.match(stalled.error!.details, /not reading/);
  const got = stalled.messages(ch);
  assert.ok(got.length < N, `only part arrived before the cut (${got.length})`);
  assert.deepEqual(
    got.map((m) => m.id),
    Array.from({ length: got.length }, (_, i) => i + 1),
    'in order, no gap',
  );
  slowVia.api.close();
  proxy.close();

  // Reconnect with the cursor it has: the rest arrives exactly once.
  const cursor = got.length ? [{ channelId: ch, lastMessageId: got.at(-1)!.id }] : [];
  const again = slow.connect(cursor);
  await again.caughtUp(15000);
  const all = [...got, ...again.messages(ch)].map((m) => m.id);
  assert.deepEqual(
    all,
    Array.from({ length: N }, (_, i) => i + 1),
  );
  again.close();
  quick.close();
  await sleep(100);
  assert.equal(env.node.core.hub.count(), baseSessions, 'every session released');
  assert.equal(env.node.ports.fanout.subscriptionCount(), baseSubs, 'every subscription released');
});

test('cancelled streams release their subscriptions and presence', async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  await a.openDirect(b.userName);
  const baseSubs = env.node.ports.fanout.subscriptionCount();
  const baseSessions = env.node.core.hub.count();
  const streams = Array.from({ length: 20 }, (_, i) => (i % 2 ? a.connect() : b.subscribe()));
  await Promise.all(streams.map((s) => s.caughtUp()));
  assert.equal(env.node.core.hub.count(), baseSessions + 20);
  assert.ok(env.node.ports.fanout.subscriptionCount() > baseSubs);
  streams.forEach((s) => s.close());
  await sleep(200);
  assert.equal(env.node.core.hub.count(), baseSessions);
  assert.equal(env.node.ports.fanout.subscriptionCount(), baseSubs);
  assert.equal(env.node.core.presence.connectedDevices(), 0);
});
