import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { C, type Device } from '../support/client.js';
import { testNode } from '../support/node.js';
import * as b from '../support/browser.js';
import { channelItem, message, messageBodies, send, until, waitMessage, loginAs } from '../support/browser.js';

// The bundled web client (web/dist/app.js: generated code + connect-web) in
// Chromium, two and three pages at once, against the node's own grpc-web
// endpoint and static files, as on `make run`: no Envoy in between.

let env: Awaited<ReturnType<typeof testNode>>;
let base: string;
let browser: Browser;
before(async () => {
  browser = await b.launchChromium();
  env = await testNode();
  base = `http://127.0.0.1:${env.node.webPort}`;
});
after(async () => {
  await browser?.close();
  await env?.stop();
});

const users = (...prefixes: string[]) => b.users(env.api, ...prefixes);
const openApp = (errors: string[], ctx?: BrowserContext): Promise<Page> => b.openApp(browser, base + '/', errors, ctx);

test('browser: two users chat live with unread counts, read receipts, typing, presence, resume, and a native device in the same channel', {
  timeout: 120_000,
}, async () => {
  const [aliceNative, bobNative] = (await users('alice', 'bob')) as [Device, Device];
  const alice = aliceNative.userName;
  const bob = bobNative.userName;
  const errors: string[] = [];
  let pa = await openApp(errors);
  const pb = await openApp(errors);
  await loginAs(pa, alice);
  await loginAs(pb, bob);

  // Bob opens the direct chat by user name; it shows up live on Alice's list (membership on her stream).
  await pb.fill('#direct-form input[name=peer]', alice);
  await pb.click('#direct-form button');
  await pb.locator('#conv-title', { hasText: alice }).waitFor();
  await channelItem(pa, bob).waitFor();
  await pb.locator('#peer-presence[data-state=online]').waitFor();

  // Unread counts while Alice looks elsewhere, cleared when she opens the chat; Bob then sees his messages read.
  await send(pb, 'hi alice');
  await send(pb, 'are you there?');
  await channelItem(pa, bob).locator('.unread', { hasText: /^2$/ }).waitFor();
  assert.match((await message(pb, 'are you there\\?').locator('.receipt').textContent()) ?? '', /^(sent|delivered)$/, 'not read yet: sent or delivered');
  await channelItem(pa, bob).click();
  await waitMessage(pa, 'are you there\\?');
  assert.deepEqual(await messageBodies(pa), ['hi alice', 'are you there?']);
  await until(async () => (await channelItem(pa, bob).locator('.unread').count()) === 0, 'unread badge cleared');
  await message(pb, 'are you there\\?')
    .locator('.receipt', { hasText: /^read$/ })
    .waitFor();
  await message(pb, 'hi alice')
    .locator('.receipt', { hasText: /^read$/ })
    .waitFor();
  await pa.locator('#peer-presence[data-state=online]').waitFor();

  // Typing shows on the other side, then the message arrives live and the indicator clears.
  await pa.locator('#composer input[name=body]').pressSequentially('hello b', { delay: 20 });
  await pb.locator('#typing', { hasText: `${alice} is typing` }).waitFor();
  await pa.locator('#composer input[name=body]').pressSequentially('ob');
  await pa.press('#composer input[name=body]', 'Enter');
  await waitMessage(pb, 'hello bob');
  await pb.locator('#typing', { hasText: /^$/ }).waitFor();

  // A native device of Alice (bidi Connect) in the same channel: both ways.
  const ch = (await aliceNative.openDirect(bob)).channel!.channelId;
  const phone = aliceNative.connect();
  await phone.caughtUp();
  phone.write({ $case: 'send', send: { channelId: ch, clientMsgId: randomUUID(), body: 'from alice phone' } });
  await waitMessage(pb, 'from alice phone');
  await waitMessage(pa, 'from alice phone');
  assert.equal(await pa.locator('#messages .msg.mine', { hasText: 'from alice phone' }).count(), 1, "Alice's browser shows her phone's message as hers");
  await send(pb, 'hi phone');
  await phone.until(() => phone.messages(ch).some((m) => m.body === 'hi phone'), 'the browser message on the native stream');
  phone.close();
  // Alice's open chat marks what she sees as read (MarkRead), for all her devices.
  await until(
    async () => (await aliceNative.chat(C.listChannels, {})).channels.find((c) => c.channelId === ch)?.unreadCount === 0,
    'the read marker of the open chat',
  );

  // Alice goes away: Bob sees her offline; what Bob sends meanwhile is replayed when she comes back.
  const ctxA = pa.context();
  await pa.close();
  await pb.locator('#peer-presence[data-state=offline]', { hasText: 'last seen' }).waitFor();
  await send(pb, 'while you were away');
  await waitMessage(pb, 'while you were away');
  pa = await openApp(errors, ctxA); // same storage: session, device id and cursors
  await pa.waitForSelector('#conn[data-state=live]');
  await channelItem(pa, bob).locator('.unread', { hasText: /^1$/ }).waitFor();
  await channelItem(pa, bob).click();
  await pa.locator('#messages .msg.replay', { hasText: 'while you were away' }).waitFor();
  const expected = ['hi alice', 'are you there?', 'hello bob', 'from alice phone', 'hi phone', 'while you were away'];
  // Older messages come from ListHistory, which may answer after the replay.
  await until(async () => (await messageBodies(pa)).length >= expected.length, 'the history page').catch(() => {});
  assert.deepEqual(await messageBodies(pa), expected, 'history + replay + live, each message once');
  await pb.locator('#peer-presence[data-state=online]').waitFor();
  await send(pa, 'back');
  await waitMessage(pb, 'back');
  assert.deepEqual(await messageBodies(pb), [...expected, 'back']);

  assert.deepEqual(errors, []);
  await ctxA.close();
  await pb.context().close();
});

test('browser: a group of three: create, chat, unread badge, "read by" counts, remove and add a member, leave', { timeout: 120_000 }, async () => {
  const [a, b, c] = (await users('ann', 'ben', 'cat')) as [Device, Device, Device];
  const errors: string[] = [];
  const [pa, pb, pc] = [await openApp(errors), await openApp(errors), await openApp(errors)];
  await loginAs(pa, a.userName);
  await loginAs(pb, b.userName);
  await loginAs(pc, c.userName);
  const title = `trio ${randomUUID().slice(0, 4)}`;

  await pa.fill('#group-form input[name=title]', title);
  await pa.fill('#group-form input[name=members]', `${b.userName}, ${c.userName}`);
  await pa.click('#group-form button');
  await pa.locator('#conv-title', { hasText: title }).waitFor();
  await until(async () => (await pa.locator('#members li').count()) === 3, 'three members listed');
  for (const p of [pb, pc]) await channelItem(p, title).waitFor();

  await send(pa, 'hello group');
  await channelItem(pb, title).locator('.unread', { hasText: /^1$/ }).waitFor();
  await channelItem(pc, title).locator('.unread', { hasText: /^1$/ }).waitFor();
  await waitMessage(pa, 'hello group');
  assert.equal(await message(pa, 'hello group').locator('.receipt').textContent(), '', 'nobody has read it yet');
  await channelItem(pb, title).click();
  await waitMessage(pb, 'hello group');
  await message(pa, 'hello group')
    .locator('.receipt', { hasText: /^read by 1$/ })
    .waitFor();
  await channelItem(pc, title).click();
  await waitMessage(pc, 'hello group');
  await message(pa, 'hello group')
    .locator('.receipt', { hasText: /^read by 2$/ })
    .waitFor();
  await send(pb, 'hi from ben');
  await send(pc, 'hi from cat');
  for (const p of [pa, pb, pc]) {
    await waitMessage(p, 'hi from ben');
    await waitMessage(p, 'hi from cat');
    assert.deepEqual((await messageBodies(p)).sort(), ['hello group', 'hi from ben', 'hi from cat']);
  }
  await message(pb, 'hi from ben')
    .locator('.receipt', { hasText: /^read by 2$/ })
    .waitFor();

  // The owner removes Cat: her list loses the group; Ben sees two members. Then adds her back.
  await pa.locator('#members li', { hasText: c.userName }).locator('button.remove').click();
  await until(async () => (await channelItem(pc, title).count()) === 0, "the group gone from Cat's list");
  await until(async () => (await pb.locator('#members li').count()) === 2, 'two members on Ben');
  await send(pa, 'cat is out');
  await waitMessage(pb, 'cat is out');
  await pa.fill('#add-form input[name=member]', c.userName);
  await pa.click('#add-form button');
  await channelItem(pc, title).waitFor();
  await until(async () => (await pb.locator('#members li').count()) === 3, 'three members again on Ben');
  await send(pa, 'welcome back');
  await channelItem(pc, title).click();
  await waitMessage(pc, 'welcome back');
  const seen = await messageBodies(pc);
  assert.equal(new Set(seen).size, seen.length, `each message once: ${seen}`);

  // Ben leaves: the group leaves his list, the others see two members.
  await channelItem(pb, title).click();
  await pb.click('#leave');
  await until(async () => (await channelItem(pb, title).count()) === 0, "the group gone from Ben's list");
  await until(async () => (await pa.locator('#members li').count()) === 2, 'two members on Ann');
  await pb.locator('#conv-title', { hasText: 'Pick a chat' }).waitFor();

  assert.deepEqual(errors, []);
  for (const p of [pa, pb, pc]) await p.context().close();
});

test('browser: scrolling up pages through older history (ListHistory before_id), each message once', { timeout: 120_000 }, async () => {
  const [a, b] = (await users('pat', 'sam')) as [Device, Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  const N = 130;
  for (let i = 1; i <= N; i++) await a.send(ch, `m${i}`);
  const errors: string[] = [];
  const pb = await openApp(errors);
  await loginAs(pb, b.userName);
  await channelItem(pb, a.userName)
    .locator('.unread', { hasText: new RegExp(`^${N}$`) })
    .waitFor();
  await channelItem(pb, a.userName).click();
  await waitMessage(pb, `m${N}`);
  assert.equal((await messageBodies(pb)).length, 50, 'the newest page first');
  const box = pb.locator('#messages');
  let pages = 1;
  while ((await pb.locator('#messages .divider.start').count()) === 0) {
    assert.ok(pages < 10, 'the start of the conversation within a few pages');
    const shown = (await messageBodies(pb)).length;
    await box.evaluate((el) => {
      el.scrollTop = 0;
    });
    await until(async () => (await messageBodies(pb)).length > shown || (await pb.locator('#messages .divider.start').count()) > 0, 'an older page');
    pages++;
  }
  const all = await messageBodies(pb);
  assert.deepEqual(
    all,
    Array.from({ length: N }, (_, i) => `m${i + 1}`),
    'every message once, oldest first',
  );
  assert.ok(pages >= 3, `paged ${pages} times`);
  // The view stays where the reader was: after a page went in above, the top is not at 0 any more.
  assert.ok((await box.evaluate((el) => el.scrollHeight > el.clientHeight)) === true);
  assert.deepEqual(errors, []);
  await pb.context().close();
});

test('browser: the network drops and comes back: connection state shown, the stream resumes from its cursors, nothing lost or doubled', {
  timeout: 120_000,
}, async () => {
  const [a, b] = (await users('kim', 'lee')) as [Device, Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  await a.send(ch, 'before the drop');
  const errors: string[] = [];
  const pb = await openApp(errors);
  const subscribes: string[] = [];
  pb.on('request', (r) => r.url().endsWith('/chat.v1.ChatService/Subscribe') && subscribes.push(r.url()));
  await loginAs(pb, b.userName);
  await channelItem(pb, a.userName).click();
  await waitMessage(pb, 'before the drop');
  assert.equal(await pb.textContent('#conn'), 'live');
  assert.equal(subscribes.length, 1);

  await pb.context().setOffline(true);
  await pb.locator('#conn[data-state=offline]', { hasText: 'offline' }).waitFor();
  const whileAway = Array.from({ length: 5 }, (_, i) => `away ${i + 1}`);
  for (const body of whileAway) await a.send(ch, body);
  // A send while offline fails on the network and waits; it goes out (same client_msg_id) once the stream is back.
  await send(pb, 'sent while offline');
  await pb.locator('#messages .msg.pending.failed', { hasText: 'sent while offline' }).waitFor();
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await message(pb, 'away 1').count(), 0, 'nothing arrives while offline');

  const back = Date.now();
  await pb.context().setOffline(false);
  await pb.locator('#conn[data-state=live]').waitFor();
  const liveAfter = Date.now() - back;
  assert.ok(subscribes.length >= 2, `a new Subscribe after the drop (${subscribes.length})`);
  for (const body of whileAway) await waitMessage(pb, body);
  await waitMessage(pb, 'sent while offline');
  await a.send(ch, 'after the drop');
  await waitMessage(pb, 'after the drop');
  const expected = ['before the drop', ...whileAway, 'sent while offline', 'after the drop'];
  assert.deepEqual(await messageBodies(pb), expected, 'each message once, in order');
  assert.equal(await pb.locator('#messages .msg.pending').count(), 0);
  const history = (await a.history(ch)).messages.map((m) => m.body).reverse();
  assert.deepEqual(history, expected, 'the server stored the offline send once');
  console.log(`network drop: live again ${liveAfter} ms after the network came back; ${whileAway.length + 1} messages from the gap, each once`);
  assert.deepEqual(errors, []);
  await pb.context().close();
});

test('browser: a connection that dies without the browser noticing is found by the failing heartbeat, and the stream resumes', {
  timeout: 60_000,
}, async () => {
  const [a, b] = (await users('ray', 'zoe')) as [Device, Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  const errors: string[] = [];
  const pb = await openApp(errors);
  const subscribes: number[] = [];
  pb.on('request', (r) => r.url().endsWith('/chat.v1.ChatService/Subscribe') && subscribes.push(Date.now()));
  await loginAs(pb, b.userName);
  await channelItem(pb, a.userName).click();
  // Heartbeats fail on the network (as through a dead NAT mapping); the open stream itself shows nothing wrong.
  await pb.route('**/chat.v1.PresenceService/Heartbeat', (r) => r.abort('connectionreset'));
  await until(() => subscribes.length >= 2, 'a new Subscribe after a failed heartbeat');
  await pb.unroute('**/chat.v1.PresenceService/Heartbeat');
  await pb.locator('#conn[data-state=live]').waitFor();
  await a.send(ch, 'still here');
  await waitMessage(pb, 'still here');
  assert.deepEqual(await messageBodies(pb), ['still here']);
  assert.deepEqual(errors, []);
  await pb.context().close();
});
