import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { LoginRequest } from '../../src/gen/chat/v1/account.js';
import { A, rpc, Device } from '../support/client.js';
import { testNode, sleep } from '../support/node.js';

/**
 * Regression (issue 10, item 4): 64 concurrent Register / Login calls with
 * random names at the default hash cost took every core (300 scrypt hashes in
 * 15 s): a legitimate login went from 94 ms to 6.3 s and a send from 6 ms to
 * 3.0 s; and 10 bad attempts a minute locked any user out from anywhere.
 *
 * Distinct client addresses over loopback: the node trusts 127.0.0.1 as a
 * proxy, so `x-forwarded-for` names the client.
 */
let env: Awaited<ReturnType<typeof testNode>>;
const PASSWORD = 'correct horse battery';
const t = randomUUID().slice(0, 6);

before(async () => {
  env = await testNode({
    CHAT_TRUSTED_PROXIES: '127.0.0.1',
    // The defaults, not the cheap settings of the other tests.
    CHAT_PASSWORD_HASH_COST: '15',
    CHAT_LOGIN_ATTEMPTS_PER_MIN: '10',
    CHAT_LOGIN_NAME_CEILING_PER_MIN: '100',
    CHAT_AUTH_ATTEMPTS_PER_ADDRESS_PER_MIN: '30',
    CHAT_PASSWORD_HASH_CONCURRENCY: '2',
    CHAT_PASSWORD_HASH_QUEUE: '16',
  });
});
after(async () => {
  await env.stop();
});

const from = (address: string) => {
  const md = new Metadata();
  md.set('x-forwarded-for', address);
  return md;
};

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => status.OK,
    (e: { code: number }) => e.code,
  );

async function account(name: string, address: string) {
  const { userId } = await rpc(env.api.accounts, A.register, { userName: name, password: PASSWORD }, from(address));
  const r = await rpc(env.api.accounts, A.login, { userName: name, password: PASSWORD, deviceId: 'd1' }, from(address));
  return new Device(env.api, userId, name, r.deviceId, r.accessToken);
}

/** 64 callers from one address in a child process, each Register then Login with random names, for `ms`. */
function flood(address: string, ms: number) {
  const child = spawn(process.execPath, [resolve('dist/test/support/floodClient.js'), env.node.address, address, String(ms), '64'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise<Map<number, number>>((ok, fail) =>
    child.once('exit', (code) =>
      code === 0
        ? ok(new Map(Object.entries(JSON.parse(out) as Record<string, number>).map(([k, v]) => [Number(k), v])))
        : fail(new Error(`flooder exited ${code}`)),
    ),
  );
}

test('a Register/Login flood with random names from one address is refused; others log in and send at their usual speed', { timeout: 60_000 }, async () => {
  const alice = await account(`alice_${t}`, '10.0.0.1');
  const bob = await account(`bob_${t}`, '10.0.0.1');
  const ch = (await alice.openDirect(bob.userName)).channel!.channelId;
  const t0 = performance.now();
  await rpc(env.api.accounts, A.login, { userName: alice.userName, password: PASSWORD, deviceId: 'd2' }, from('10.0.0.2'));
  const quietLoginMs = performance.now() - t0;

  const ends = Date.now() + 4000;
  const attack = flood('10.66.0.1', 4000);
  await sleep(300); // the flooder process starts
  const logins: number[] = [];
  const sends: number[] = [];
  // Sends and logins in two loops of their own, so a slow box still tries several of each in the window.
  const sending = (async () => {
    while (Date.now() < ends) {
      await sleep(100);
      const s0 = performance.now();
      await alice.send(ch, 'during the flood');
      sends.push(performance.now() - s0);
    }
  })();
  const loggingIn = (async () => {
    for (let i = 0; Date.now() < ends; i++) {
      await sleep(300);
      const l0 = performance.now();
      await rpc(env.api.accounts, A.login, { userName: alice.userName, password: PASSWORD, deviceId: 'd2' }, from(`10.0.1.${i}`));
      logins.push(performance.now() - l0);
    }
  })();
  await Promise.all([sending, loggingIn]);
  const c = await attack;
  const refused = c.get(status.RESOURCE_EXHAUSTED) ?? 0;
  const hashed = (c.get(status.OK) ?? 0) + (c.get(status.UNAUTHENTICATED) ?? 0);
  const total = [...c.values()].reduce((a, b) => a + b, 0);
  console.log(
    `flood: ${total} calls, ${refused} RESOURCE_EXHAUSTED, ${hashed} hashed; quiet login ${quietLoginMs.toFixed(0)} ms; ` +
      `logins during ${logins.map((x) => x.toFixed(0)).join('/')} ms; sends median ${[...sends].sort((x, y) => x - y)[Math.floor(sends.length / 2)]?.toFixed(0)} ms, max ${Math.max(...sends).toFixed(0)} ms of ${sends.length}; gate refused ${env.node.core.auth.gate.refused}`,
  );
  assert.deepEqual(
    [...c.keys()].filter((k) => ![status.OK, status.UNAUTHENTICATED, status.RESOURCE_EXHAUSTED].includes(k)),
    [],
    'only refusals and ordinary answers',
  );
  // Burst of 10 per address + 0.5/s refill over ~4 s.
  assert.ok(hashed <= 14, `at most 14 hashes for the attacking address, got ${hashed}`);
  // The flood must be one (many times the address's hash budget) for the refusals to mean anything; its volume
  // is the flooder's speed on this box (over 500 calls in 4 s when idle, 384 in a clean-clone run beside a benchmark).
  assert.ok(total >= 200, `the flooder made only ${total} calls`);
  assert.ok(refused >= total - hashed, `the rest is refused, got ${refused} of ${total}`);
  assert.ok(logins.length >= 3, 'legitimate logins were tried during the flood');
  // Before the hash gate, hashing for the flood held the event loop: one send took 7.5 s and no
  // legitimate login got through in the window. A typical call must stay at its quiet speed and
  // no call may come near that;
  // the single slowest of ~35 calls on a shared 2-core box also catches a Cassandra flush
  // (sends max 241 ms in a clean-clone Cassandra pass), so it is bounded at the regression's scale.
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const shown = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  assert.ok(median(logins) < 1500 && Math.max(...logins) < 3000, `legitimate logins answer at their speed: ${shown(logins)} ms`);
  assert.ok(median(sends) < 150 && Math.max(...sends) < 1000, `sends keep their latency: ${shown(sends)} ms`);
});

test('the hash queue refuses with RESOURCE_EXHAUSTED and retry-after-ms when one address asks for more hashes than it may hold', async () => {
  const address = '10.77.0.1';
  const calls = Array.from({ length: 8 }, () =>
    rpc(env.api.accounts, A.login, { userName: 'q' + randomUUID().slice(0, 8), password: 'some password', deviceId: 'd' }, from(address)).catch(
      (e: { code: number; metadata: Metadata; details: string }) => e,
    ),
  );
  const results = await Promise.all(calls);
  const busy = results.filter((e) => (e as { code?: number }).code === status.RESOURCE_EXHAUSTED) as Array<{ metadata: Metadata; details: string }>;
  assert.ok(busy.length >= 5, `at most 2 hashes at once per address: ${busy.length} of 8 refused`);
  assert.match(busy[0]!.details, /busy checking passwords; retry in \d+ ms/);
  assert.ok(Number(busy[0]!.metadata.get('retry-after-ms')[0]) > 0, 'a retry hint');
});

test('failed logins for a victim from address A do not stop the victim logging in from address B', async () => {
  const victim = `victim_${t}`;
  await rpc(env.api.accounts, A.register, { userName: victim, password: PASSWORD }, from('10.0.2.1'));
  const attacker = [];
  for (let i = 0; i < 15; i++) {
    attacker.push(await codeOf(rpc(env.api.accounts, A.login, { userName: victim, password: `guess ${i} guess`, deviceId: 'x' }, from('10.66.0.2'))));
  }
  assert.deepEqual(attacker.slice(0, 10), Array(10).fill(status.UNAUTHENTICATED), 'the first attempts are checked');
  assert.deepEqual(attacker.slice(10), Array(5).fill(status.RESOURCE_EXHAUSTED), 'then the attacker is refused');
  const r = await rpc(env.api.accounts, A.login, { userName: victim, password: PASSWORD, deviceId: 'phone' }, from('10.0.2.2'));
  assert.ok(r.accessToken, 'the victim logs in from another address');
});

test('over grpc-web the limit follows the browser address, not the bridge', async () => {
  const web = `http://127.0.0.1:${env.node.webPort}`;
  const body = Buffer.from(LoginRequest.encode({ userName: 'w' + randomUUID().slice(0, 8), password: 'wrong password', deviceId: 'd' }).finish());
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), body]);
  framed.writeUInt32BE(body.length, 1);
  const grpcStatus = async (address: string) => {
    const res = await fetch(`${web}${A.login.path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', 'x-forwarded-for': address },
      body: framed,
      signal: AbortSignal.timeout(10_000),
    });
    const text = Buffer.from(await res.arrayBuffer()).toString('latin1');
    return Number(/grpc-status: (\d+)/.exec(text)?.[1]);
  };
  // Spend the budget of 10.0.3.9 (a burst of 10) over native gRPC; right after, it is refused over grpc-web too, while a fresh address is not.
  let refusedNatively = false;
  for (let i = 0; i < 20 && !refusedNatively; i++) {
    const name = 'n' + randomUUID().slice(0, 8);
    refusedNatively =
      (await codeOf(rpc(env.api.accounts, A.login, { userName: name, password: 'wrong password', deviceId: 'd' }, from('10.0.3.9')))) ===
      status.RESOURCE_EXHAUSTED;
  }
  assert.ok(refusedNatively, 'the address ran out of attempts');
  // The bucket refills at 0.5/s, so a token can come back between the native refusal and the
  // next call (it did once: 16 !== 8). Three calls one after another take well under the 2 s
  // a second token needs: at least two are refused if the bridge passes the browser's address.
  const overWeb = [];
  for (let i = 0; i < 3; i++) overWeb.push(await grpcStatus('10.0.3.9'));
  assert.ok(overWeb.filter((c) => c === status.RESOURCE_EXHAUSTED).length >= 2, `over grpc-web from the spent address: ${overWeb}`);
  assert.ok(
    overWeb.every((c) => c === status.RESOURCE_EXHAUSTED || c === status.UNAUTHENTICATED),
    `${overWeb}`,
  );
  assert.equal(await grpcStatus('10.0.3.1'), status.UNAUTHENTICATED);
});
