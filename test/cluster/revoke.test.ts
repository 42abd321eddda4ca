import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { A, Api, C, Device, registerAndLogin, rpc, type DeviceStream } from '../support/client.js';
import { NodeProcess, clusterEnv } from '../support/proc.js';

const run = 't' + randomUUID().slice(0, 8);
const nodes: NodeProcess[] = [];
const apis: Api[] = [];
after(async () => {
  for (const a of apis) a.close();
  for (const n of nodes) n.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exited));
});

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'OK',
    (e: { code: number; details: string }) => `${status[e.code]}: ${e.details}`,
  );

/** Issue 11: a revocation on one node reaches the other nodes' streams through Redis within 2 s. */
test('3-node cluster: revoking device 2 from device 1 ends its streams on the other nodes within 2 s', { timeout: 90_000 }, async () => {
  for (let i = 1; i <= 3; i++) nodes.push(new NodeProcess(clusterEnv(run, { CHAT_NODE_ID: `node-${i}` })));
  const addrs = await Promise.all(nodes.map((n) => n.ready()));
  apis.push(...addrs.map((a) => new Api(a)));
  const [d1, d2] = (await registerAndLogin(apis[0]!, `rv_${run}`, ['d1', 'd2'])) as [Device, Device];
  // Device 2's streams on nodes 2 and 3; its token already checked (and cached) there.
  const on = (api: Api) => new Device(api, d2.userId, d2.userName, d2.deviceId, d2.token);
  const streams: DeviceStream[] = [on(apis[1]!).connect(), on(apis[2]!).subscribe()];
  await Promise.all(streams.map((s) => s.caughtUp()));
  assert.equal(await outcome(on(apis[2]!).chat(C.listChannels, {})), 'OK');

  await rpc(apis[0]!.accounts, A.revokeDevice, { deviceId: 'd2' }, d1.md());
  const t0 = Date.now();
  const ended = await Promise.all(
    streams.map(async (s) => {
      await s.until(() => !!s.error, 'stream error', 5000);
      return { code: s.error!.code, ms: Date.now() - t0 };
    }),
  );
  for (const e of ended) {
    assert.equal(e.code, status.UNAUTHENTICATED);
    assert.ok(e.ms < 2000, `stream ended ${e.ms} ms after the revocation`);
  }
  console.log(`# revoked streams ended after ${ended.map((e) => e.ms).join(', ')} ms`);
  for (const api of apis) assert.equal(await outcome(on(api).chat(C.listChannels, {})), 'UNAUTHENTICATED: this device was signed out; log in again');
  assert.equal(await outcome(d1.chat(C.listChannels, {})), 'OK');
});
