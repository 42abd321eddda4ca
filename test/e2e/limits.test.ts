import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { A, registerAndLogin, rpc, type Device } from '../support/client.js';
import { testNode } from '../support/node.js';

let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode({
    CHAT_SEND_RATE_PER_SEC: '5',
    CHAT_SEND_BURST: '5',
    CHAT_LOGIN_ATTEMPTS_PER_MIN: '3',
    CHAT_MAX_CHANNELS_PER_USER: '2',
    CHAT_MAX_STREAMS_PER_USER: '2',
  });
});
after(async () => {
  await env.stop();
});

const exhausted = (e: { code: number; details: string; metadata?: { get(k: string): unknown[] } }) => e.code === status.RESOURCE_EXHAUSTED;

test('sends per user per second: past the burst, RESOURCE_EXHAUSTED with a retry hint; other users unaffected', async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  // A burst of 10 at once: the bucket holds 5 and refills 5 per second, so however slow the box, at most
  // 5 + 5 x (seconds the burst took) are accepted; the rest are refused with a retry hint.
  const started = Date.now();
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => a.send(ch, `burst ${i}`)));
  const seconds = (Date.now() - started) / 1000;
  const accepted = results.filter((r) => r.status === 'fulfilled').length;
  assert.ok(accepted >= 5, `the burst of 5 is accepted (${accepted})`);
  assert.ok(accepted <= 5 + Math.ceil(5 * seconds), `${accepted} accepted in ${seconds} s: more than the bucket allows`);
  const refused = results.flatMap((r) =>
    r.status === 'rejected' ? [r.reason as { code: number; details: string; metadata: { get(k: string): unknown[] } }] : [],
  );
  assert.ok(refused.length > 0, 'some of the burst is refused');
  for (const e of refused) {
    assert.ok(exhausted(e), `refused with ${e.code}: ${e.details}`);
    assert.match(e.details, /at most 5 messages per second; retry in \d+ ms/);
    assert.ok(Number(e.metadata.get('retry-after-ms')[0]) > 0);
  }
  assert.ok((await b.send(ch, 'b is fine')).message!.id > 0, 'the limit is per user');
  await new Promise((r) => setTimeout(r, 250));
  assert.ok((await a.send(ch, 'after a pause')).message!.id > 0);
});

test('login attempts per user name are limited, for existing and unknown names alike', async () => {
  const t = randomUUID().slice(0, 6);
  await registerAndLogin(env.api, `l_${t}`, []);
  for (const name of [`l_${t}`, `ghost_${t}`]) {
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        () => rpc(env.api.accounts, A.login, { userName: name, password: 'wrong password', deviceId: 'x' }),
        (e: { code: number }) => e.code === status.UNAUTHENTICATED,
      );
    }
    await assert.rejects(() => rpc(env.api.accounts, A.login, { userName: name, password: 'correct horse battery', deviceId: 'x' }), exhausted);
  }
});

test('channels per user and streams per user are capped', async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `c_${t}`)) as [Device];
  const others = await Promise.all(
    [1, 2, 3].map(async (i) => {
      await registerAndLogin(env.api, `o${i}_${t}`, []);
      return `o${i}_${t}`;
    }),
  );
  await a.openDirect(others[0]!);
  await a.createGroup('g', [others[1]!]);
  await assert.rejects(
    () => a.openDirect(others[2]!),
    (e: { code: number; details: string }) => e.code === status.FAILED_PRECONDITION && /already in 2 channels/.test(e.details),
  );
  const s1 = a.connect();
  const s2 = a.connect();
  await Promise.all([s1.caughtUp(), s2.caughtUp()]);
  const s3 = a.connect();
  await s3.until(() => !!s3.error, 'the third stream refused');
  assert.equal(s3.error!.code, status.RESOURCE_EXHAUSTED);
  assert.match(s3.error!.details, /too many open streams/);
  s1.close();
  s2.close();
});
