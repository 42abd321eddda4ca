import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { C, registerAndLogin, type Device, type DeviceStream } from '../support/client.js';
import { testNode, sleep } from '../support/node.js';

let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode();
});
after(async () => {
  await env.stop();
});

const users = async (...names: string[]) => {
  const tag = randomUUID().slice(0, 6);
  return Promise.all(names.map(async (n) => (await registerAndLogin(env.api, `${n}_${tag}`))[0]!));
};

test('1:1: B receives in order with server ids; A gets acks with the same ids', async () => {
  const [a, b] = (await users('a', 'b')) as [Device, Device];
  const { channel } = await a.openDirect(b.userName);
  const bs = b.connect();
  await bs.caughtUp();
  const as = a.connect();
  await as.caughtUp();
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const cm = randomUUID();
    ids.push(cm);
    as.write({ $case: 'send', send: { channelId: channel!.channelId, clientMsgId: cm, body: `m${i}` } });
  }
  await as.until(() => as.of('sendAck').length === 20, '20 acks');
  await bs.until(() => bs.messages(channel!.channelId).length === 20, '20 messages at B');
  const got = bs.messages(channel!.channelId);
  assert.deepEqual(
    got.map((m) => m.body),
    ids.map((_, i) => `m${i}`),
  );
  assert.deepEqual(
    got.map((m) => m.id),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  const acks = as.of('sendAck').map((f) => f.sendAck);
  for (const m of got) {
    const ack = acks.find((x) => x.clientMsgId === m.clientMsgId)!;
    assert.equal(ack.messageId, m.id);
    assert.equal(m.senderUserId, a.userId);
  }
  // The sending stream gets each of its sends back once, as its ack (in id order), never as a second frame with the body.
  assert.deepEqual(
    acks.map((x) => x.messageId),
    got.map((m) => m.id),
  );
  assert.equal(as.messages(channel!.channelId).length, 0, 'no echo of its own bodies on the sending stream');
  as.close();
  bs.close();
});

test("a stream is a complete, ordered log of its channels: the messages of others and the acks of its own sends interleave in id order; the user's other device gets everything as messages", async () => {
  const tag = randomUUID().slice(0, 6);
  const [a1, a2] = (await registerAndLogin(env.api, `a_${tag}`, ['phone', 'laptop'])) as [Device, Device];
  const [b] = (await registerAndLogin(env.api, `b_${tag}`)) as [Device];
  const ch = (await a1.openDirect(b.userName)).channel!.channelId;
  const streams = [a1.connect(), a2.connect(), b.connect()] as const;
  await Promise.all(streams.map((s) => s.caughtUp()));
  const [s1, s2, sb] = streams;
  const N = 40;
  for (let i = 0; i < N; i++) {
    // Both sides at once, so acks and the other side's messages race on each stream.
    s1.write({ $case: 'send', send: { channelId: ch, clientMsgId: randomUUID(), body: `a${i}` } });
    sb.write({ $case: 'send', send: { channelId: ch, clientMsgId: randomUUID(), body: `b${i}` } });
  }
  const log = (s: DeviceStream) =>
    s.frames.flatMap((f) =>
      f.$case === 'message' && f.message.channelId === ch ? [f.message.id] : f.$case === 'sendAck' && f.sendAck.channelId === ch ? [f.sendAck.messageId] : [],
    );
  const all = Array.from({ length: 2 * N }, (_, i) => i + 1);
  for (const [name, s] of [
    ['a1', s1],
    ['a2', s2],
    ['b', sb],
  ] as const) {
    await s.until(() => log(s).length >= 2 * N, `${name}: ${2 * N} entries`);
    assert.deepEqual(log(s), all, `${name}: every id once, in order`);
  }
  assert.equal(s1.of('sendAck').length, N);
  assert.ok(
    s1.messages(ch).every((m) => m.body.startsWith('b')),
    'a1 gets only the other side as messages',
  );
  assert.equal(s2.messages(ch).length, 2 * N, "a2 gets a1's sends as messages");
  assert.equal(s2.of('sendAck').length, 0);
  for (const s of streams) s.close();
});

test('ids strictly increase per channel; a resend with the same client_msg_id is not a second message', async () => {
  const [a, b] = (await users('a', 'b')) as [Device, Device];
  const { channel } = await a.openDirect(b.userName);
  const ch = channel!.channelId;
  const bs = b.connect();
  await bs.caughtUp();
  const cm = randomUUID();
  const first = await a.send(ch, 'once', cm);
  const again = await a.send(ch, 'once', cm);
  const third = await a.send(ch, 'twice?', cm); // even with another body: the original wins
  assert.equal(first.duplicate, false);
  assert.equal(again.duplicate, true);
  assert.equal(third.duplicate, true);
  assert.equal(again.message!.id, first.message!.id);
  assert.equal(third.message!.body, 'once');
  // Concurrent resends race to one message.
  const cm2 = randomUUID();
  const racers = await Promise.all(Array.from({ length: 10 }, () => a.send(ch, 'race', cm2)));
  assert.equal(new Set(racers.map((r) => r.message!.id)).size, 1);
  assert.equal(racers.filter((r) => !r.duplicate).length, 1);
  const next = await a.send(ch, 'after');
  assert.ok(next.message!.id > racers[0]!.message!.id);
  const hist = await b.history(ch);
  assert.deepEqual(
    hist.messages.map((m) => m.body),
    ['after', 'race', 'once'],
  );
  await sleep(100);
  assert.deepEqual(
    bs.messages(ch).map((m) => m.body),
    ['once', 'race', 'after'],
  );
  bs.close();
});

test('groups: 100 members including the creator; the 101st is refused and nothing changes', async () => {
  const tag = randomUUID().slice(0, 6);
  const owner = (await registerAndLogin(env.api, `own_${tag}`))[0]!;
  const names: string[] = [];
  for (let i = 0; i < 100; i++) names.push(`m${i}_${tag}`);
  await Promise.all(names.map((n) => registerAndLogin(env.api, n, [])));
  const { channel } = await owner.createGroup('big', names.slice(0, 99));
  assert.equal(channel!.members.length, 100);
  await assert.rejects(
    () => owner.chat(C.addMembers, { channelId: channel!.channelId, members: [names[99]!] }),
    (e: { code: number; details: string }) => e.code === status.FAILED_PRECONDITION && /at most 100 members/.test(e.details),
  );
  const after = await owner.chat(C.describeChannel, { channelId: channel!.channelId });
  assert.equal(after.channel!.members.length, 100);
  // Creating a group of 101 in one go fails the same way.
  await assert.rejects(
    () => owner.createGroup('too big', names),
    (e: { code: number }) => e.code === status.FAILED_PRECONDITION,
  );
});

test('only members send or read; removed members stop receiving at once', async () => {
  const [a, b, c, x] = (await users('a', 'b', 'c', 'x')) as [Device, Device, Device, Device];
  const { channel } = await a.createGroup('team', [b.userName, c.userName]);
  const ch = channel!.channelId;
  await assert.rejects(
    () => x.send(ch, 'let me in'),
    (e: { code: number }) => e.code === status.PERMISSION_DENIED,
  );
  await assert.rejects(
    () => x.history(ch),
    (e: { code: number }) => e.code === status.PERMISSION_DENIED,
  );
  const cs = c.connect();
  await cs.caughtUp();
  await a.send(ch, 'before removal');
  await cs.until(() => cs.messages(ch).length === 1, 'first message at C');
  // B is a plain member: cannot remove anyone.
  await assert.rejects(
    () => b.chat(C.removeMember, { channelId: ch, member: c.userName }),
    (e: { code: number }) => e.code === status.PERMISSION_DENIED,
  );
  await a.chat(C.removeMember, { channelId: ch, member: c.userName });
  await a.send(ch, 'after removal');
  await cs.until(() => cs.of('membership').some((f) => f.membership.userId === c.userId && f.membership.channelId === ch), 'removal event');
  await sleep(150);
  assert.deepEqual(
    cs.messages(ch).map((m) => m.body),
    ['before removal'],
  );
  await assert.rejects(
    () => c.send(ch, 'still here?'),
    (e: { code: number }) => e.code === status.PERMISSION_DENIED,
  );
  cs.close();
  // A device that resumes with a cursor of the channel it was removed from is not refused; it gets nothing of it.
  const again = c.connect([{ channelId: ch, lastMessageId: 0 }]);
  await again.caughtUp();
  assert.equal(again.messages(ch).length, 0);
  again.close();
});

test('typing reaches the other members online devices and is never stored', async () => {
  const [a, b] = (await users('a', 'b')) as [Device, Device];
  const { channel } = await a.openDirect(b.userName);
  const ch = channel!.channelId;
  const bs = b.connect();
  await bs.caughtUp();
  const as = a.connect();
  await as.caughtUp();
  as.write({ $case: 'typing', typing: { channelId: ch, typing: true } });
  await bs.until(() => bs.of('typing').some((f) => f.typing.typing && f.typing.userId === a.userId), 'typing at B');
  await sleep(100);
  assert.equal(as.of('typing').length, 0, 'the typing device does not get its own event');
  const hist = await b.history(ch);
  assert.equal(hist.messages.length, 0);
  as.close();
  bs.close();
});
