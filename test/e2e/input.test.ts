import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Metadata, status, type Client } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { A, C, bearer, registerAndLogin, rpc, type Device } from '../support/client.js';
import { testNode } from '../support/node.js';

let env: Awaited<ReturnType<typeof testNode>>;
let a: Device;
let b: Device;
let ch: string;
const SECRET = 'x'.repeat(40);

before(async () => {
  env = await testNode({ CHAT_JWT_SECRET: SECRET, CHAT_MAX_BODY_BYTES: '8192' });
  const t = randomUUID().slice(0, 6);
  [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  ch = (await a.openDirect(b.userName)).channel!.channelId;
});
after(async () => {
  await env.stop();
});

const rejects = async (p: Promise<unknown>, code: status, pattern: RegExp) => {
  await assert.rejects(p, (e: { code: number; details: string }) => {
    assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code]}: ${e.details}`);
    assert.match(e.details, pattern);
    return true;
  });
};

/** Sends raw bytes as a SendMessageRequest (to get invalid UTF-8 past the client's encoder). */
function rawSend(client: Client, bytes: Buffer, md: Metadata) {
  return rawCall(client, C.sendMessage.path, bytes, md);
}

function rawCall(client: Client, path: string, bytes: Buffer, md: Metadata) {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      path,
      (x: Buffer) => x,
      (x: Buffer) => x,
      bytes,
      md,
      (e, r) => (e ? reject(e) : resolve(r)),
    ),
  );
}

function field(no: number, bytes: Buffer) {
  return Buffer.concat([Buffer.from([(no << 3) | 2, bytes.length]), bytes]);
}

test('bad input gets a canonical status naming the problem, and the node keeps serving', async () => {
  const bs = b.connect();
  await bs.caughtUp();
  await rejects(a.send(ch, ''), status.INVALID_ARGUMENT, /body is empty/);
  await rejects(a.send(ch, 'x'.repeat(8193)), status.INVALID_ARGUMENT, /8193 bytes; the limit is 8192/);
  await rejects(a.send(ch, 'é'.repeat(4097)), status.INVALID_ARGUMENT, /8194 bytes/);
  await rejects(a.send('g_' + '0'.repeat(32), 'hi'), status.NOT_FOUND, /does not exist/);
  await rejects(a.send('not-a-channel', 'hi'), status.INVALID_ARGUMENT, /not a valid channel id/);
  await rejects(a.chat(C.sendMessage, { channelId: ch, body: 'hi', clientMsgId: 'not-a-uuid' }), status.INVALID_ARGUMENT, /client_msg_id must be a UUID/);
  await rejects(a.chat(C.sendMessage, { channelId: ch, body: 'hi', clientMsgId: '' }), status.INVALID_ARGUMENT, /client_msg_id is required/);
  // before_id = 2^60 (past what a JS number holds exactly), as raw bytes.
  const huge = Buffer.concat([field(1, Buffer.from(ch)), Buffer.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])]);
  await rejects(
    rawCall(a.api.chat, C.listHistory.path, huge, a.md()),
    status.INVALID_ARGUMENT,
    /not a valid chat.v1.ListHistoryRequest message: before_id is larger than 2\^53/,
  );
  const bad = Buffer.concat([field(1, Buffer.from(ch)), field(2, Buffer.from(randomUUID())), field(3, Buffer.from([0x68, 0xff, 0xfe, 0x69]))]);
  await rejects(rawSend(a.api.chat, bad, a.md()), status.INVALID_ARGUMENT, /body is not valid UTF-8/);
  await rejects(rawSend(a.api.chat, Buffer.from([0x0a, 0x50, 0x01]), a.md()), status.INVALID_ARGUMENT, /not a valid chat.v1.SendMessageRequest/);
  // The frame limit: a request bigger than grpc.max_receive_message_length.
  await rejects(a.send(ch, 'y'.repeat(70 * 1024)), status.RESOURCE_EXHAUSTED, /larger than max/i);
  // On the stream, a bad send gets a SendError frame and the stream lives on.
  const as = a.connect();
  await as.caughtUp();
  const cm = randomUUID();
  as.write({ $case: 'send', send: { channelId: ch, clientMsgId: cm, body: '' } });
  as.write({ $case: 'read', read: { channelId: 'g_' + '1'.repeat(32), lastReadMessageId: 1 } });
  as.write({ $case: 'send', send: { channelId: ch, clientMsgId: randomUUID(), body: 'still fine' } });
  await as.until(() => as.of('sendAck').length === 1, 'ack after errors');
  const err = as.of('sendError')[0]!.sendError;
  assert.equal(err.clientMsgId, cm);
  assert.equal(err.code, status.INVALID_ARGUMENT);
  assert.equal(as.of('error')[0]!.error.code, status.NOT_FOUND);
  await bs.until(() => bs.messages(ch).some((m) => m.body === 'still fine'), 'the good message');
  assert.equal(bs.messages(ch).length, 1, 'nothing bad was stored or delivered');
  as.close();
  bs.close();
});

test('missing, malformed, forged and expired tokens are UNAUTHENTICATED', async () => {
  await rejects(rpc(a.api.chat, C.listChannels, {}), status.UNAUTHENTICATED, /missing/);
  await rejects(rpc(a.api.chat, C.listChannels, {}, bearer('garbage')), status.UNAUTHENTICATED, /invalid/);
  const md = new Metadata();
  md.set('authorization', 'Basic abc');
  await rejects(rpc(a.api.chat, C.listChannels, {}, md), status.UNAUTHENTICATED, /Bearer/);
  const forged = await new SignJWT({ did: 'd1' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(a.userId)
    .setIssuer('grpc-chat')
    .setAudience('grpc-chat')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode('y'.repeat(40)));
  await rejects(rpc(a.api.chat, C.listChannels, {}, bearer(forged)), status.UNAUTHENTICATED, /invalid/);
  const expired = await new SignJWT({ did: 'd1' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(a.userId)
    .setIssuer('grpc-chat')
    .setAudience('grpc-chat')
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
    .sign(new TextEncoder().encode(SECRET));
  await rejects(rpc(a.api.chat, C.listChannels, {}, bearer(expired)), status.UNAUTHENTICATED, /expired/);
  const s = env.api.chat.subscribe({ cursors: [] }, bearer(expired));
  const code = await new Promise<number>((r) => {
    s.on('error', (e: { code: number }) => r(e.code));
    s.on('data', () => {});
  });
  assert.equal(code, status.UNAUTHENTICATED);
  // Wrong password and unknown user look the same.
  await rejects(
    rpc(a.api.accounts, A.login, { userName: a.userName, password: 'wrong password!', deviceId: 'x' }),
    status.UNAUTHENTICATED,
    /user name or password is wrong/,
  );
  await rejects(
    rpc(a.api.accounts, A.login, { userName: 'nobody_' + randomUUID().slice(0, 6), password: 'wrong password!', deviceId: 'x' }),
    status.UNAUTHENTICATED,
    /user name or password is wrong/,
  );
  await rejects(rpc(a.api.accounts, A.register, { userName: a.userName, password: 'another password' }), status.ALREADY_EXISTS, /taken/);
  await rejects(rpc(a.api.accounts, A.register, { userName: 'x', password: 'another password' }), status.INVALID_ARGUMENT, /user_name/);
  await rejects(
    rpc(a.api.accounts, A.login, { userName: a.userName, password: 'correct horse battery', deviceId: 'bad device id!' }),
    status.INVALID_ARGUMENT,
    /device_id/,
  );
  // Still serving.
  assert.ok((await a.send(ch, 'alive')).message!.id > 0);
});

test('AckDelivered past the channel head is clamped to the head, so later messages still reach the device', async () => {
  const g = (await a.createGroup('acks', [b.userName])).channel!.channelId;
  const one = (await a.send(g, 'one')).message!;
  await b.chat(C.ackDelivered, { cursors: [{ channelId: g, lastMessageId: 1_000_000 }] });
  const bs = b.connect();
  await bs.caughtUp();
  const caught = bs.of('caughtUp')[0]!.caughtUp.cursors.find((c) => c.channelId === g);
  assert.equal(caught?.lastMessageId, one.id, 'the stored cursor is the head, not 1,000,000');
  // The same over Connect; a refused frame behind the ack marks when the ack was handled (frames are handled in order).
  bs.write({ $case: 'ack', ack: { cursors: [{ channelId: g, lastMessageId: 2 ** 40 }] } });
  bs.write({ $case: 'read', read: { channelId: 'not-a-channel', lastReadMessageId: 1 } });
  await bs.until(() => bs.of('error').length === 1, 'the barrier frame');
  bs.close();
  const two = (await a.send(g, 'two')).message!;
  const sync = await b.chat(C.syncMessages, { cursors: [], limit: 0 });
  assert.deepEqual(
    sync.messages.filter((m) => m.channelId === g).map((m) => m.body),
    ['two'],
    'the message after the head reaches the device that acked past it',
  );
  assert.equal(sync.cursors.find((c) => c.channelId === g)?.lastMessageId, two.id);
});

test('limits above the documented maximum are clamped: ListHistory limit=100000 answers 500 and a next page', async () => {
  const g = (await a.createGroup('history', [b.userName])).channel!.channelId;
  for (let i = 0; i < 11; i++) await Promise.all(Array.from({ length: 50 }, (_, j) => a.send(g, `m${i * 50 + j}`)));
  const page = await a.chat(C.listHistory, { channelId: g, beforeId: 0, limit: 100_000 });
  assert.equal(page.messages.length, 500);
  assert.ok(page.nextBeforeId > 0, 'there is a next page');
  const rest = await a.chat(C.listHistory, { channelId: g, beforeId: page.nextBeforeId, limit: 100_000 });
  assert.equal(rest.messages.length, 50);
  const sync = await b.chat(C.syncMessages, { cursors: [{ channelId: g, lastMessageId: 0 }], limit: 100_000 });
  assert.ok(sync.messages.length <= 1000 && sync.messages.length >= 550, `sync answered ${sync.messages.length}`);
});
