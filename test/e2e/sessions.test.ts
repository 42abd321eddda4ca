import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { A, C, Device, bearer, registerAndLogin, rpc, type DeviceStream } from '../support/client.js';
import { testNode } from '../support/node.js';

/** Issue 11: sessions and devices (refresh rotation, reuse detection, revocation, password change, account deletion). */
let env: Awaited<ReturnType<typeof testNode>>;
const PW = 'correct horse battery';

before(async () => {
  env = await testNode();
});
after(async () => {
  await env.stop();
});

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'OK',
    (e: { code: number; details: string }) => `${status[e.code]}: ${e.details}`,
  );

async function loginFull(userName: string, deviceId: string, password = PW) {
  const r = await rpc(env.api.accounts, A.login, { userName, password, deviceId });
  return { device: new Device(env.api, r.userId, userName, r.deviceId, r.accessToken), r };
}

/** Resolves with the status code the stream ended with, and how long after `since` it ended. */
async function endOf(s: DeviceStream, since: () => number, ms = 5000) {
  await s.until(() => !!s.error || s.ended, 'stream error', ms);
  return { code: s.error?.code, afterMs: Date.now() - since() };
}

test('refresh rotates both tokens; reusing a spent refresh token signs the device out and says so', async () => {
  const name = `rs_${randomUUID().slice(0, 6)}`;
  await rpc(env.api.accounts, A.register, { userName: name, password: PW });
  const { r: first } = await loginFull(name, 'phone');
  assert.ok(first.refreshToken.length > 40, 'login returns a refresh token');
  assert.ok(first.expiresAtMs - Date.now() <= 15 * 60_000 + 1000, 'the access token is short-lived (15 min by default)');
  const second = await rpc(env.api.accounts, A.refreshSession, { refreshToken: first.refreshToken });
  assert.notEqual(second.refreshToken, first.refreshToken);
  assert.equal(second.deviceId, 'phone');
  assert.equal(await outcome(rpc(env.api.chat, C.listChannels, {}, bearer(second.accessToken))), 'OK');
  const third = await rpc(env.api.accounts, A.refreshSession, { refreshToken: second.refreshToken });
  // A thief replays the first token: the device is revoked, whoever holds the newest tokens.
  assert.match(
    await outcome(rpc(env.api.accounts, A.refreshSession, { refreshToken: first.refreshToken })),
    /^UNAUTHENTICATED: this refresh token was already used, so it may have been stolen/,
  );
  assert.equal(await outcome(rpc(env.api.chat, C.listChannels, {}, bearer(third.accessToken))), 'UNAUTHENTICATED: this device was signed out; log in again');
  assert.match(await outcome(rpc(env.api.accounts, A.refreshSession, { refreshToken: third.refreshToken })), /^UNAUTHENTICATED: /);
  assert.equal(await outcome(rpc(env.api.accounts, A.refreshSession, { refreshToken: 'garbage' })), 'UNAUTHENTICATED: refresh token is invalid; log in again');
  // Logging in again on the device works.
  const { device } = await loginFull(name, 'phone');
  assert.equal(await outcome(device.chat(C.listChannels, {})), 'OK');
});

test('revoking a device ends its open streams with UNAUTHENTICATED within 2 s, and refuses its next call', async () => {
  const name = `rv_${randomUUID().slice(0, 6)}`;
  const [laptop, phone] = (await registerAndLogin(env.api, name, ['laptop', 'phone'])) as [Device, Device];
  const connect = phone.connect();
  const sub = phone.subscribe();
  await Promise.all([connect.caughtUp(), sub.caughtUp()]);
  const laptopStream = laptop.connect();
  await laptopStream.caughtUp();
  let t0 = 0;
  await rpc(env.api.accounts, A.revokeDevice, { deviceId: 'phone' }, laptop.md());
  t0 = Date.now();
  for (const s of [connect, sub]) {
    const end = await endOf(s, () => t0);
    assert.equal(end.code, status.UNAUTHENTICATED);
    assert.ok(end.afterMs < 2000, `ended ${end.afterMs} ms after the revocation`);
  }
  assert.equal(await outcome(phone.chat(C.listChannels, {})), 'UNAUTHENTICATED: this device was signed out; log in again');
  const devices = await rpc(env.api.accounts, A.listDevices, {}, laptop.md());
  assert.deepEqual(
    devices.devices.map((d) => d.deviceId),
    ['laptop'],
  );
  assert.equal(laptopStream.error, undefined, 'the revoking device keeps its stream');
  assert.equal(await outcome(rpc(env.api.accounts, A.revokeDevice, { deviceId: 'nope' }, laptop.md())), 'NOT_FOUND: you have no device "nope"');
  laptopStream.close();
});

test('the token check reads no store per call (generations cached per node)', async () => {
  const [d] = (await registerAndLogin(env.api, `hc_${randomUUID().slice(0, 6)}`)) as [Device];
  await d.chat(C.listChannels, {});
  const accounts = env.node.ports.accounts;
  const read = accounts.session.bind(accounts);
  let reads = 0;
  accounts.session = (u, dev) => {
    reads++;
    return read(u, dev);
  };
  try {
    for (let i = 0; i < 20; i++) await d.chat(C.listChannels, {});
  } finally {
    accounts.session = read;
  }
  assert.equal(reads, 0);
});

test('logout signs this device out; a password change signs out every other device', async () => {
  const name = `pw_${randomUUID().slice(0, 6)}`;
  const [a, b, c] = (await registerAndLogin(env.api, name, ['a', 'b', 'c'])) as [Device, Device, Device];
  await rpc(env.api.accounts, A.logout, {}, c.md());
  assert.match(await outcome(c.chat(C.listChannels, {})), /^UNAUTHENTICATED/);
  const bStream = b.subscribe();
  await bStream.caughtUp();
  assert.equal(
    await outcome(rpc(env.api.accounts, A.changePassword, { oldPassword: 'wrong password', newPassword: 'n3w password!' }, a.md())),
    'UNAUTHENTICATED: password is wrong',
  );
  const r = await rpc(env.api.accounts, A.changePassword, { oldPassword: PW, newPassword: 'n3w password!' }, a.md());
  assert.equal(r.revokedDevices, 1);
  assert.equal((await endOf(bStream, () => 0)).code, status.UNAUTHENTICATED);
  assert.match(await outcome(b.chat(C.listChannels, {})), /^UNAUTHENTICATED/);
  assert.equal(await outcome(a.chat(C.listChannels, {})), 'OK');
  assert.match(await outcome(loginFull(name, 'b')), /^UNAUTHENTICATED: user name or password is wrong/);
  assert.equal(await outcome(loginFull(name, 'b', 'n3w password!')), 'OK');
});

test('delete account: streams end, groups are left, the direct channel stays as history, the name is free', async () => {
  const t = randomUUID().slice(0, 6);
  const [gone] = (await registerAndLogin(env.api, `del_${t}`)) as [Device];
  const [friend] = (await registerAndLogin(env.api, `fr_${t}`)) as [Device];
  const direct = (await friend.openDirect(gone.userName)).channel!.channelId;
  const group = (await gone.createGroup('g', [friend.userName])).channel!.channelId;
  await gone.send(direct, 'last words');
  const s = gone.subscribe();
  await s.caughtUp();
  assert.equal(await outcome(rpc(env.api.accounts, A.deleteAccount, { password: 'wrong password' }, gone.md())), 'UNAUTHENTICATED: password is wrong');
  await rpc(env.api.accounts, A.deleteAccount, { password: PW }, gone.md());
  assert.equal((await endOf(s, () => 0)).code, status.UNAUTHENTICATED);
  assert.match(await outcome(gone.chat(C.listChannels, {})), /^UNAUTHENTICATED/);
  const g = (await friend.chat(C.describeChannel, { channelId: group })).channel!;
  assert.deepEqual(
    g.members.map((m) => m.userId),
    [friend.userId],
    'the deleted account left the group and its ownership passed on',
  );
  assert.equal(g.members[0]!.role, 3);
  const h = await friend.history(direct);
  assert.equal(h.messages[0]!.body, 'last words', 'messages are kept');
  const d = (await friend.chat(C.describeChannel, { channelId: direct })).channel!;
  assert.equal(d.members.find((m) => m.userId === gone.userId)?.userName, '', 'shown as a deleted account');
  assert.equal(await outcome(friend.send(direct, 'hello?')), 'FAILED_PRECONDITION: the other account of this direct channel was deleted');
  const again = await rpc(env.api.accounts, A.register, { userName: gone.userName, password: PW });
  assert.notEqual(again.userId, gone.userId, 'the name is free; the user id is new');
});
