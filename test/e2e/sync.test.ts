import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { C, login, registerAndLogin, type Device } from '../support/client.js';
import { testNode, sleep } from '../support/node.js';

let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode();
});
after(async () => {
  await env.stop();
});

const tag = () => randomUUID().slice(0, 6);

test('multi-device: a send from device 1 reaches devices 2 and 3 and every device of the others; read state syncs', async () => {
  const t = tag();
  const [a1, a2, a3] = (await registerAndLogin(env.api, `a_${t}`, ['phone', 'laptop', 'tablet'])) as [Device, Device, Device];
  const [b1, b2] = (await registerAndLogin(env.api, `b_${t}`, ['phone', 'web'])) as [Device, Device];
  const { channel } = await a1.createGroup('fam', [b1.userName]);
  const ch = channel!.channelId;
  const streams = [a1, a2, a3, b1].map((d) => d.connect());
  const bWeb = b2.subscribe(); // a browser-style device on the same account
  const all = [...streams, bWeb];
  await Promise.all(all.map((s) => s.caughtUp()));
  streams[0]!.write({ $case: 'send', send: { channelId: ch, clientMsgId: randomUUID(), body: 'hello all' } });
  const others = all.slice(1);
  await Promise.all(others.map((s) => s.until(() => s.messages(ch).length === 1, 'the message on every other device')));
  for (const s of others) assert.equal(s.messages(ch)[0]!.body, 'hello all');
  const id = others[0]!.messages(ch)[0]!.id;
  // B reads on the phone; B's web device and A's devices see the receipt.
  all[3]!.write({ $case: 'read', read: { channelId: ch, lastReadMessageId: id } });
  await bWeb.until(() => bWeb.of('receipt').some((f) => f.receipt.userId === b1.userId && f.receipt.lastReadMessageId === id), 'read receipt on B web');
  await streams[1]!.until(() => streams[1]!.of('receipt').some((f) => f.receipt.userId === b1.userId), 'read receipt on A laptop');
  const list = await b2.chat(C.listChannels, {});
  const mine = list.channels.find((c) => c.channelId === ch)!;
  assert.equal(mine.lastReadMessageId, id);
  assert.equal(mine.unreadCount, 0);
  all.forEach((s) => s.close());
});

test('store-and-forward: 50 messages while B is offline arrive exactly once, in order, then caught_up, then live (with a send during replay)', async () => {
  const t = tag();
  const [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  const { channel } = await a.openDirect(b.userName);
  const ch = channel!.channelId;
  // B was online once and has seen message 1.
  const first = b.connect();
  await first.caughtUp();
  await a.send(ch, 'seen');
  await first.until(() => first.messages(ch).length === 1, 'first message');
  const cursor = { channelId: ch, lastMessageId: first.messages(ch)[0]!.id };
  first.close();
  for (let i = 0; i < 50; i++) await a.send(ch, `offline ${i}`);
  const bs = b.connect([cursor]);
  // Sends racing with the replay, and after it.
  const racing = Promise.all([a.send(ch, 'during replay 1'), a.send(ch, 'during replay 2')]);
  await bs.caughtUp();
  await racing;
  await a.send(ch, 'live');
  await bs.until(() => bs.messages(ch).some((m) => m.body === 'live'), 'the live message');
  const bodies = bs.messages(ch).map((m) => m.body);
  const ids = bs.messages(ch).map((m) => m.id);
  assert.deepEqual(
    bodies.slice(0, 50),
    Array.from({ length: 50 }, (_, i) => `offline ${i}`),
  );
  assert.deepEqual(
    ids,
    Array.from({ length: 53 }, (_, i) => i + 2),
    'ids 2..54, no gap, no repeat',
  );
  assert.equal(bodies.at(-1), 'live');
  const caughtAt = bs.frames.findIndex((f) => f.$case === 'caughtUp');
  const firstLive = bs.frames.findIndex((f) => f.$case === 'message' && f.message.body === 'live');
  assert.ok(caughtAt >= 50 && caughtAt < firstLive, 'caught_up comes after the 50 replayed and before live');
  bs.close();
});

test('each device has its own cursor; a brand-new device starts at the head and pages the full history', async () => {
  const t = tag();
  const [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  const [b1, b2] = (await registerAndLogin(env.api, `b_${t}`, ['phone', 'laptop'])) as [Device, Device];
  const { channel } = await a.openDirect(b1.userName);
  const ch = channel!.channelId;
  for (let i = 1; i <= 10; i++) await a.send(ch, `m${i}`);
  // The phone acknowledges up to 10, the laptop only up to 4 (stored cursors, no resume cursors sent).
  await b1.chat(C.ackDelivered, { cursors: [{ channelId: ch, lastMessageId: 10 }] });
  await b2.chat(C.ackDelivered, { cursors: [{ channelId: ch, lastMessageId: 4 }] });
  for (let i = 11; i <= 15; i++) await a.send(ch, `m${i}`);
  const phone = b1.connect();
  const laptop = b2.connect();
  await Promise.all([phone.caughtUp(), laptop.caughtUp()]);
  assert.deepEqual(
    phone.messages(ch).map((m) => m.id),
    [11, 12, 13, 14, 15],
  );
  assert.deepEqual(
    laptop.messages(ch).map((m) => m.id),
    [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  );
  // SyncMessages (unary) agrees with the stream for the laptop's stored cursor.
  const sync = await b2.chat(C.syncMessages, { cursors: [], limit: 0 });
  assert.deepEqual(
    sync.messages.map((m) => m.id),
    [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  );
  // A new device gets no replay but can page everything.
  const tablet = await login(env.api, b1.userName, 'tablet');
  const ts = tablet.connect();
  await ts.caughtUp();
  assert.equal(ts.messages(ch).length, 0);
  const pages: number[] = [];
  let before = 0;
  for (let guard = 0; guard < 10; guard++) {
    const page = await tablet.history(ch, before, 4);
    pages.push(...page.messages.map((m) => m.id));
    if (!page.nextBeforeId) break;
    before = page.nextBeforeId;
  }
  assert.deepEqual(
    pages,
    Array.from({ length: 15 }, (_, i) => 15 - i),
  );
  [phone, laptop, ts].forEach((s) => s.close());
  await sleep(10);
});

test('a channel created while a device is connected is delivered from its first message', async () => {
  const t = tag();
  const [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  const bs = b.connect();
  await bs.caughtUp();
  const { channel } = await a.createGroup('new', [b.userName]);
  const ch = channel!.channelId;
  for (let i = 0; i < 5; i++) await a.send(ch, `g${i}`);
  await bs.until(() => bs.messages(ch).length === 5, 'five group messages');
  assert.deepEqual(
    bs.messages(ch).map((m) => m.id),
    [1, 2, 3, 4, 5],
  );
  assert.ok(bs.of('membership').some((f) => f.membership.channelId === ch && f.membership.userId === b.userId));
  bs.close();
});
