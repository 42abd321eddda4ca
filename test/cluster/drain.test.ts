import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Api, registerAndLogin, rpc } from '../support/client.js';
import { DiscoveryServiceService as D } from '../../src/gen/chat/v1/discovery.js';
import { NodeProcess, clusterEnv } from '../support/proc.js';
import { sleep } from '../support/node.js';
import { SimDevice } from './SimDevice.js';
import { healthStatus } from '../support/health.js';

const run = 't' + randomUUID().slice(0, 8);
const nodes: NodeProcess[] = [];
after(async () => {
  for (const n of nodes) n.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exited));
});

test('SIGTERM drains a node: NOT_SERVING, out of discovery, clients told where to go, nothing lost or duplicated, exit within the grace', {
  timeout: 120_000,
}, async () => {
  for (let i = 1; i <= 2; i++) nodes.push(new NodeProcess(clusterEnv(run, { CHAT_NODE_ID: `node-${i}`, CHAT_SHUTDOWN_GRACE_MS: '6000' })));
  const [a, b] = await Promise.all(nodes.map((n) => n.ready()));
  const api = new Api(a!);
  const alice = await registerAndLogin(api, `alice_${run}`, ['a1', 'a2']);
  const bob = await registerAndLogin(api, `bob_${run}`, ['b1']);
  const dm = (await alice[0]!.openDirect(bob[0]!.userName)).channel!.channelId;
  api.close();
  // Both nodes see each other in discovery: each one's PickServer names the other at least once
  // (it spreads its answers), instead of a fixed sleep.
  for (const [from, other] of [
    [a!, 'node-2'],
    [b!, 'node-1'],
  ] as const) {
    const ask = new Api(from);
    try {
      const seen = async () => (await rpc(ask.discovery, D.pickServer, { regionHint: '' })).server?.nodeId === other;
      let ok = false;
      for (const until = Date.now() + 10_000; !ok && Date.now() < until; ) if (!(ok = await seen())) await sleep(50);
      assert.ok(ok, `${from} never answered ${other} within 10 s`);
    } finally {
      ask.close();
    }
  }

  const onA = alice.map((d) => new SimDevice(d, a!, () => [b!]));
  const onB = new SimDevice(bob[0]!, b!, () => [b!]);
  const devices = [...onA, onB];
  await Promise.all(devices.map((d) => d.connect()));

  for (let r = 0; r < 10; r++) {
    for (const d of devices) d.send(dm, `${d.label} r${r}`);
    if (r === 4) {
      nodes[0]!.kill('SIGTERM');
      assert.equal(await healthStatus(a!), 'NOT_SERVING');
    }
    await sleep(40);
  }
  const code = await Promise.race([nodes[0]!.exited, sleep(8000).then(() => 'timeout')]);
  assert.equal(code, 0, `node-1 exits cleanly within the grace period:\n${nodes[0]!.log}`);
  assert.ok(
    onA.every((d) => d.moved >= 1 && d.node === b),
    'devices on the draining node were sent to node-2',
  );

  const deadline = Date.now() + 30_000;
  while (devices.some((d) => d.pending.size) && Date.now() < deadline) await sleep(100);
  assert.deepEqual(
    devices.map((d) => d.pending.size),
    [0, 0, 0],
    'every send acknowledged',
  );
  const acked = new Set<number>();
  for (const d of devices) for (const x of d.acked.values()) acked.add(x.id);
  assert.equal(acked.size, 30, 'one message per send, none twice');
  const until = Date.now() + 15_000;
  while (devices.some((d) => (d.received.get(dm)?.length ?? 0) < 30) && Date.now() < until) await sleep(100);
  for (const d of devices) {
    const ids = d.received.get(dm) ?? [];
    assert.deepEqual(
      [...ids].sort((x, y) => x - y),
      ids,
      `${d.label}: in order`,
    );
    assert.equal(new Set(ids).size, ids.length, `${d.label}: no duplicates`);
    if ([...acked].some((id) => !ids.includes(id))) console.log(d.label, JSON.stringify(ids), JSON.stringify([...d.acked.values()]));
    assert.deepEqual(
      [...acked].filter((id) => !ids.includes(id)),
      [],
      `${d.label}: nothing missing`,
    );
  }
  devices.forEach((d) => d.stop());
});
