import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { C, registerAndLogin, type Device, type DeviceStream } from '../support/client.js';
import { testNode, sleep } from '../support/node.js';
import { MessageKind } from '../../src/gen/chat/v1/common.js';

/**
 * Message lifecycle end to end (memory, and Cassandra + Redis with CHAT_TEST_STORE=scylla):
 * edits, deletes and reactions are entries in the channel's id sequence, so a device that
 * was offline gets them in order on reconnect; history shows the current state; receipts.
 */
const EDIT_WINDOW_MS = 3000;
let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode({ CHAT_EDIT_WINDOW_MS: String(EDIT_WINDOW_MS) });
});
after(async () => {
  await env.stop();
});

const tag = () => randomUUID().slice(0, 6);
const edit = (d: Device, channelId: string, messageId: number, body: string, clientMsgId = randomUUID()) =>
  d.chat(C.editMessage, { channelId, messageId, clientMsgId, body });
const remove = (d: Device, channelId: string, messageId: number) => d.chat(C.deleteMessage, { channelId, messageId });
const react = (d: Device, channelId: string, messageId: number, emoji: string, remove = false) => d.chat(C.react, { channelId, messageId, emoji, remove });
const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return status.OK;
  } catch (e) {
    return (e as ServiceError).code;
  }
};
const unread = async (d: Device, channelId: string) => (await d.chat(C.listChannels, {})).channels.find((c) => c.channelId === channelId)!.unreadCount;

async function trio(t: string) {
  const [a1, a2] = (await registerAndLogin(env.api, `a_${t}`, ['phone', 'laptop'])) as [Device, Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  const [c] = (await registerAndLogin(env.api, `c_${t}`)) as [Device];
  const { channel } = await a1.createGroup('lifecycle', [b.userName, c.userName]);
  return { a1, a2, b, c, ch: channel!.channelId };
}

test('a device offline during an edit, a delete and three reactions gets them on reconnect in order, after their messages, exactly once; history shows the final state', async () => {
  const { a1, a2, b, c, ch } = await trio(tag());
  const live = a2.connect();
  const first = b.connect();
  await Promise.all([live.caughtUp(), first.caughtUp()]);
  const m1 = (await a1.send(ch, 'hello wrld')).message!;
  const m2 = (await a1.send(ch, 'SECRET-plans')).message!;
  await first.until(() => first.messages(ch).length === 2, 'both messages');
  first.close();
  // B is offline now.
  const e = await edit(a1, ch, m1.id, 'hello world');
  await remove(a1, ch, m2.id);
  await react(a1, ch, m1.id, '👍');
  await react(c, ch, m1.id, '❤️');
  await react(b, ch, m1.id, '🎉'); // from B's other session: still offline on this device
  const back = b.connect([{ channelId: ch, lastMessageId: m2.id }]);
  await back.caughtUp();
  await a1.send(ch, 'after');
  await back.until(() => back.messages(ch).some((m) => m.body === 'after'), 'live message after the replay');
  const got = back.messages(ch);
  assert.deepEqual(
    got.map((m) => [m.id, m.kind, m.change?.targetId ?? 0, m.change?.emoji ?? '']),
    [
      [m2.id + 1, MessageKind.MESSAGE_KIND_EDIT, m1.id, ''],
      [m2.id + 2, MessageKind.MESSAGE_KIND_DELETE, m2.id, ''],
      [m2.id + 3, MessageKind.MESSAGE_KIND_REACTION, m1.id, '👍'],
      [m2.id + 4, MessageKind.MESSAGE_KIND_REACTION, m1.id, '❤️'],
      [m2.id + 5, MessageKind.MESSAGE_KIND_REACTION, m1.id, '🎉'],
      [m2.id + 6, MessageKind.MESSAGE_KIND_USER, 0, ''],
    ],
    'in id order, no gap, no repeat, each after the message it changes',
  );
  assert.equal(got[0]!.id, e.entry!.id);
  assert.equal(got[1]!.body, '', 'the DELETE entry carries no text');
  // The live device got the same entries live, in the same order.
  await live.until(() => live.messages(ch).some((m) => m.body === 'after'), 'live device');
  assert.deepEqual(
    live.messages(ch).map((m) => m.id),
    Array.from({ length: 8 }, (_, i) => m1.id + i),
  );
  // History: current state, no entries.
  const page = await b.history(ch);
  assert.deepEqual(
    page.messages.map((m) => m.id),
    [m2.id + 6, m2.id, m1.id],
  );
  const [, tomb, one] = page.messages as [unknown, (typeof page.messages)[0], (typeof page.messages)[0]];
  assert.equal(one.body, 'hello world');
  assert.equal(one.state?.editCount, 1);
  assert.ok((one.state?.editedAtMs ?? 0) >= m1.sentAtMs);
  assert.equal(one.state?.lastChangeId, m2.id + 5);
  assert.deepEqual(
    one.state?.reactions.map((r) => [r.emoji, r.count, r.me]).sort(),
    [
      ['❤️', 1, false],
      ['🎉', 1, true],
      ['👍', 1, false],
    ].sort(),
  );
  assert.deepEqual([tomb.body, tomb.state?.deleted, tomb.senderUserId, tomb.sentAtMs], ['', true, a1.userId, m2.sentAtMs]);
  // A full replay from 0 shows the final state on the messages (with B's `me`) and then every entry once.
  const fromZero = b.connect([{ channelId: ch, lastMessageId: 0 }]);
  await fromZero.caughtUp();
  const all = fromZero.messages(ch);
  assert.equal(new Set(all.map((m) => m.id)).size, all.length);
  assert.equal(all[0]!.body, 'hello world');
  assert.ok(all[0]!.state?.reactions.some((r) => r.emoji === '🎉' && r.me));
  [live, back, fromZero].forEach((s) => s.close());
});

test('the body of a deleted message and of its edits is erased in storage (the row read back)', async () => {
  const { a1, ch } = await trio(tag());
  const m = (await a1.send(ch, 'SECRET-one')).message!;
  const e = await edit(a1, ch, m.id, 'SECRET-two');
  await remove(a1, ch, m.id);
  const store = env.node.ports.messages;
  const row = await store.get(ch, m.id);
  assert.deepEqual([row?.body, row?.deleted, row?.senderUserId], ['', true, a1.userId]);
  assert.equal((await store.get(ch, e.entry!.id))?.body, '', 'the edit entry row holds no text');
  assert.ok(!JSON.stringify(await store.after(ch, 0, 100)).includes('SECRET'));
});

test('permissions: non-member, not the sender, outside the window, deleting twice, removed member, admins may delete; edits are idempotent', async () => {
  const t = tag();
  const { a1, b, c, ch } = await trio(t);
  const [stranger] = (await registerAndLogin(env.api, `s_${t}`)) as [Device];
  const mA = (await a1.send(ch, 'by a')).message!;
  const mB = (await b.send(ch, 'by b')).message!;
  assert.equal(await code(edit(stranger, ch, mA.id, 'x')), status.PERMISSION_DENIED, 'non-member edit');
  assert.equal(await code(react(stranger, ch, mA.id, '👍')), status.PERMISSION_DENIED, 'non-member react');
  assert.equal(await code(edit(b, ch, mA.id, 'x')), status.PERMISSION_DENIED, 'not the sender');
  assert.equal(await code(remove(c, ch, mB.id)), status.PERMISSION_DENIED, 'a plain member deletes another one’s message');
  assert.equal(await code(edit(a1, ch, 999_999, 'x')), status.NOT_FOUND, 'no such message');
  assert.equal(await code(react(a1, ch, mA.id, 'ab')), status.INVALID_ARGUMENT, 'not an emoji');
  assert.equal(await code(react(a1, ch, mA.id, '👍👍')), status.INVALID_ARGUMENT, 'two emojis');
  assert.equal(await code(a1.chat(C.sendMessage, { channelId: ch, clientMsgId: randomUUID(), body: 'r', replyToId: 999_999 })), status.NOT_FOUND);
  // Idempotent edit: a resend returns the first entry; only one entry is stored.
  const key = randomUUID();
  const e1 = await edit(a1, ch, mA.id, 'by a, fixed', key);
  const e2 = await edit(a1, ch, mA.id, 'by a, fixed', key);
  assert.deepEqual([e2.entry!.id, e2.duplicate, e1.duplicate], [e1.entry!.id, true, false]);
  assert.equal(await code(edit(a1, ch, mB.id, 'x', key)), status.INVALID_ARGUMENT, 'the key of another change');
  // The owner deletes B's message; twice is refused; a deleted message takes no edit or reaction.
  await remove(a1, ch, mB.id);
  assert.equal(await code(remove(a1, ch, mB.id)), status.FAILED_PRECONDITION, 'deleting twice');
  assert.equal(await code(edit(b, ch, mB.id, 'x')), status.FAILED_PRECONDITION, 'edit a deleted message');
  assert.equal(await code(react(c, ch, mB.id, '👍')), status.FAILED_PRECONDITION, 'react to a deleted message');
  // Reactions: at most one of each per user; a repeat takes no id; at most 20 distinct.
  const r1 = await react(c, ch, mA.id, '👍');
  const r2 = await react(c, ch, mA.id, '👍');
  assert.ok(r1.entry && !r2.entry);
  assert.deepEqual(
    r2.reactions.map((r) => [r.emoji, r.count, r.me]),
    [['👍', 1, true]],
  );
  const emojis = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗'].slice(0, 19);
  for (const e of emojis) await react(c, ch, mA.id, e);
  assert.equal(await code(react(c, ch, mA.id, '🤔')), status.FAILED_PRECONDITION, 'the 21st distinct emoji');
  await react(a1, ch, mA.id, '😀'); // an existing emoji is not a new one
  // A removed member can no longer react; a reply keeps its reply_to_id after the target is deleted.
  await a1.chat(C.removeMember, { channelId: ch, member: c.userName });
  assert.equal(await code(react(c, ch, mA.id, '🎉')), status.PERMISSION_DENIED, 'removed member');
  const reply = (await a1.chat(C.sendMessage, { channelId: ch, clientMsgId: randomUUID(), body: 're', replyToId: mB.id })).message!;
  assert.equal(reply.replyToId, mB.id);
  assert.equal((await a1.history(ch)).messages.find((m) => m.id === reply.id)?.replyToId, mB.id);
  // Outside the edit window.
  await sleep(EDIT_WINDOW_MS + 100);
  assert.equal(await code(edit(a1, ch, mA.id, 'too late')), status.FAILED_PRECONDITION, 'outside the window');
});

test('unread counts and push count new messages only: edits, deletes and reactions leave them unchanged', async () => {
  const { a1, b, ch } = await trio(tag());
  const ms = [];
  for (let i = 0; i < 3; i++) ms.push((await a1.send(ch, `m${i}`)).message!);
  assert.equal(await unread(b, ch), 3);
  // Count pushes for this channel (B and C are offline: a new message is pushed to them).
  const push = env.node.ports.push;
  const notify = push.notify.bind(push);
  let pushes = 0;
  push.notify = (n) => {
    if (n.channelId === ch) pushes++;
    return notify(n);
  };
  try {
    await edit(a1, ch, ms[0]!.id, 'm0 edited');
    await react(a1, ch, ms[1]!.id, '👍');
    await react(b, ch, ms[1]!.id, '👍');
    await remove(a1, ch, ms[2]!.id);
    assert.equal(await unread(b, ch), 3, 'still the three messages');
    await sleep(200);
    assert.equal(pushes, 0, 'no push for edits, deletes and reactions');
    await a1.send(ch, 'm3');
    assert.equal(await unread(b, ch), 4);
    for (let i = 0; i < 250 && pushes < 2; i++) await sleep(20);
    assert.equal(pushes, 2, 'one push per offline member (B, C) for the new message');
  } finally {
    push.notify = notify;
  }
});

test("receipts: a 1:1 peer's delivery and read reach the sender's other devices; a group message's counts and who", async () => {
  const t = tag();
  const [a1, a2] = (await registerAndLogin(env.api, `a_${t}`, ['phone', 'laptop'])) as [Device, Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  const { channel } = await a1.openDirect(b.userName);
  const ch = channel!.channelId;
  const other = a2.connect();
  const bs = b.connect();
  await Promise.all([other.caughtUp(), bs.caughtUp()]);
  const m = (await a1.send(ch, 'did you get it?')).message!;
  await bs.until(() => bs.messages(ch).length === 1, 'B gets the message');
  bs.write({ $case: 'ack', ack: { cursors: [{ channelId: ch, lastMessageId: m.id }] } });
  await other.until(
    () => other.of('delivery').some((f) => f.delivery.userId === b.userId && f.delivery.lastDeliveredMessageId === m.id),
    'delivered tick on A laptop',
  );
  bs.write({ $case: 'read', read: { channelId: ch, lastReadMessageId: m.id } });
  await other.until(() => other.of('receipt').some((f) => f.receipt.userId === b.userId && f.receipt.lastReadMessageId === m.id), 'read tick on A laptop');
  assert.equal(bs.of('delivery').length, 0, 'nobody is told about their own delivery');
  const r = await a1.chat(C.getReceipts, { channelId: ch, messageId: m.id });
  assert.deepEqual([r.memberCount, r.receivedCount, r.readCount, r.readBy], [1, 1, 1, [b.userId]]);
  // Group: counts and who.
  const g = await trio(tag());
  const gm = (await g.a1.send(g.ch, 'group')).message!;
  await g.b.chat(C.ackDelivered, { cursors: [{ channelId: g.ch, lastMessageId: gm.id }] });
  await g.c.chat(C.markRead, { channelId: g.ch, lastReadMessageId: gm.id });
  const gr = await g.c.chat(C.getReceipts, { channelId: g.ch, messageId: gm.id });
  assert.deepEqual([gr.memberCount, gr.receivedCount, gr.readCount], [2, 2, 1]);
  assert.deepEqual([...gr.receivedBy].sort(), [g.b.userId, g.c.userId].sort());
  assert.deepEqual(gr.readBy, [g.c.userId]);
  [other, bs].forEach((s) => s.close());
});

test('a 100-member group where 100 devices ack and read a message: receipt traffic stays bounded (frames per message measured)', async () => {
  const t = tag();
  const members: Device[] = [];
  for (let i = 0; i < 100; i++) members.push(...((await registerAndLogin(env.api, `m${i}_${t}`)) as Device[]));
  const [owner, ...rest] = members as [Device, ...Device[]];
  const { channel } = await owner.createGroup(
    'hundred',
    rest.map((d) => d.userName),
  );
  const ch = channel!.channelId;
  const streams: DeviceStream[] = members.map((d) => d.connect());
  await Promise.all(streams.map((s) => s.caughtUp(20_000)));
  const m = (await owner.send(ch, 'to all')).message!;
  await Promise.all(streams.slice(1).map((s) => s.until(() => s.messages(ch).length === 1, 'the message', 20_000)));
  const receiptFrames = () => streams.reduce((n, s) => n + s.of('delivery').length + s.of('receipt').length, 0);
  /** Until every ack (or read) has been taken in: GetReceipts counts it (at most 10 s). */
  const receipts = async (done: (r: { memberCount: number; receivedCount: number; readCount: number }) => boolean) => {
    let r = await owner.chat(C.getReceipts, { channelId: ch, messageId: m.id });
    for (const until = Date.now() + 10_000; !done(r) && Date.now() < until; ) {
      await sleep(100);
      r = await owner.chat(C.getReceipts, { channelId: ch, messageId: m.id });
    }
    return r;
  };
  streams.forEach((s) => s.write({ $case: 'ack', ack: { cursors: [{ channelId: ch, lastMessageId: m.id }] } }));
  const r = await receipts((x) => x.receivedCount >= 99);
  assert.deepEqual([r.memberCount, r.receivedCount], [99, 99]);
  await sleep(300); // any frame the acks caused is on its way by now
  const afterAcks = receiptFrames();
  streams.forEach((s) => s.write({ $case: 'read', read: { channelId: ch, lastReadMessageId: m.id } }));
  await receipts((x) => x.readCount >= 99);
  // Until the receipt frames stop coming (no new one for 300 ms, at most 10 s).
  for (let last = -1, at = Date.now(); Date.now() - at < 10_000; ) {
    await sleep(300);
    const now = receiptFrames();
    if (now === last) break;
    last = now;
  }
  const afterReads = receiptFrames() - afterAcks;
  const rr = await owner.chat(C.getReceipts, { channelId: ch, messageId: m.id });
  assert.equal(rr.readCount, 99);
  console.log(
    `# receipt frames for one message in a 100-member group: ${afterAcks} after 100 acks, ${afterReads} after 100 reads (${(afterReads / 100).toFixed(1)} per stream)`,
  );
  assert.equal(afterAcks, 0, 'acks in a group produce no frames: members ask GetReceipts');
  assert.ok(afterReads <= 100 * 99, 'at most one read receipt per member and stream (coalesced per channel and user)');
  streams.forEach((s) => s.close());
});
