import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { status } from '@grpc/grpc-js';
import { PresenceServiceService as P } from '../../src/gen/chat/v1/presence.js';
import { PresenceState } from '../../src/gen/chat/v1/common.js';
import { registerAndLogin, rpc, type Device, type DeviceStream } from '../support/client.js';
import { testNode, sleep } from '../support/node.js';

const PRESENCE = { CHAT_PRESENCE_TIMEOUT_MS: '2000', CHAT_HEARTBEAT_INTERVAL_MS: '400' };
let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  // Presence timeout 2 s, heartbeat 400 ms (the suite's default is 600/150 ms: one 450 ms stall of
  // a loaded box between two touches made an extra off/on pair here).
  env = await testNode(PRESENCE);
});
after(async () => {
  await env.stop();
});

const pair = async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  await a.openDirect(b.userName);
  return [a, b] as const;
};

const watch = (watcher: Device, userId: string) => watcher.watchPresence([userId]);

type PresenceFrame = { presence: { userId: string; state: PresenceState; lastActiveAtMs: number } };
const states = (w: DeviceStream) =>
  (w.frames as unknown as PresenceFrame[]).map((f) => (f.presence.state === PresenceState.PRESENCE_STATE_ONLINE ? 'on' : 'off'));

test('presence: online while connected; a flap within the timeout makes no event; offline with last_active_at after the timeout', async () => {
  const [a, b] = await pair();
  const w = watch(b, a.userId);
  await w.until(() => w.frames.length === 1, 'initial presence');
  assert.deepEqual(states(w), ['off']);
  const s1 = a.connect();
  await w.until(() => states(w).length === 2, 'online event');
  // Flap: drop and come back well within the 2 s timeout.
  s1.close();
  await sleep(150);
  const s2 = a.connect();
  await s2.caughtUp();
  await sleep(2500); // longer than the timeout: the reconnected stream keeps A online
  assert.deepEqual(states(w), ['off', 'on'], 'no event for the flap');
  const closedAt = Date.now();
  s2.close();
  await w.until(() => states(w).length === 3, 'offline event', 6000);
  const off = (w.frames as unknown as PresenceFrame[])[2]!.presence;
  assert.equal(off.state, PresenceState.PRESENCE_STATE_OFFLINE);
  assert.ok(Date.now() - closedAt >= 1600, 'offline only after the timeout (less at most one heartbeat interval)');
  assert.ok(off.lastActiveAtMs > 0 && off.lastActiveAtMs <= Date.now());
  const got = await rpc(b.api.presence, P.getPresence, { userIds: [a.userId] }, b.md());
  assert.equal(got.presences[0]!.state, PresenceState.PRESENCE_STATE_OFFLINE);
  w.close();
});

test('presence: unary heartbeats keep a browser device online; stopping them turns it offline', async () => {
  const [a, b] = await pair();
  const w = watch(b, a.userId);
  await w.until(() => w.frames.length === 1, 'initial presence');
  for (let i = 0; i < 8; i++) {
    await rpc(a.api.presence, P.heartbeat, {}, a.md());
    await sleep(400); // 3.2 s in all: longer than the timeout
  }
  assert.deepEqual(states(w), ['off', 'on']);
  await w.until(() => states(w).length === 3, 'offline after heartbeats stop', 6000);
  assert.deepEqual(states(w), ['off', 'on', 'off']);
  w.close();
});

test('presence is visible only to users who share a channel', async () => {
  const [a] = await pair();
  const [stranger] = await pair();
  await assert.rejects(
    () => rpc(stranger.api.presence, P.getPresence, { userIds: [a.userId] }, stranger.md()),
    (e: { code: number }) => e.code === status.PERMISSION_DENIED,
  );
  const w = watch(stranger, a.userId);
  await w.until(() => !!w.error, 'watch error');
  assert.equal(w.error!.code, status.PERMISSION_DENIED);
});

test('push: one webhook call per device of a recipient with no online device; none once a device is online', async () => {
  const received: Array<{ userId: string; deviceId: string; messageId: number; preview: string }> = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(hook.address() as { port: number }).port}/push`;
  const node = await testNode({ ...PRESENCE, CHAT_PUSH: 'webhook', CHAT_PUSH_WEBHOOK_URL: url });
  try {
    const t = randomUUID().slice(0, 6);
    const [a] = (await registerAndLogin(node.api, `a_${t}`)) as [Device];
    const [b1] = (await registerAndLogin(node.api, `b_${t}`, ['phone', 'tablet'])) as [Device, Device];
    const { channel } = await a.openDirect(b1.userName);
    const sent = await a.send(channel!.channelId, 'wake up');
    const deadline = Date.now() + 3000;
    while (received.length < 2 && Date.now() < deadline) await sleep(20);
    await sleep(100);
    assert.equal(received.length, 2);
    assert.deepEqual(received.map((r) => r.deviceId).sort(), ['phone', 'tablet']);
    for (const r of received) {
      assert.equal(r.userId, b1.userId);
      assert.equal(r.messageId, sent.message!.id);
      assert.equal(r.preview, 'wake up');
    }
    const bs = b1.connect();
    await bs.caughtUp();
    await a.send(channel!.channelId, 'you are online');
    await bs.until(() => bs.messages().length === 2, 'both messages');
    await sleep(200);
    assert.equal(received.length, 2, 'no push while a device is online');
    bs.close();
  } finally {
    await node.stop();
    hook.close();
  }
});

test('presence: a chat opened mid-session brings the peer’s current presence to both streams', async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `pa_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `pb_${t}`)) as [Device];
  const as = a.connect();
  const bs = b.connect();
  await Promise.all([as.caughtUp(), bs.caughtUp()]);
  await b.openDirect(a.userName);
  await bs.until(
    () => bs.of('presence').some((f) => f.presence.userId === a.userId && f.presence.state === PresenceState.PRESENCE_STATE_ONLINE),
    'A online on B',
  );
  await as.until(
    () => as.of('presence').some((f) => f.presence.userId === b.userId && f.presence.state === PresenceState.PRESENCE_STATE_ONLINE),
    'B online on A',
  );
  as.close();
  bs.close();
});
