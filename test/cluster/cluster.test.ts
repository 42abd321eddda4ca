import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Api, registerAndLogin, type Device } from '../support/client.js';
import { NodeProcess, clusterEnv } from '../support/proc.js';
import { sleep } from '../support/node.js';
import { SimDevice } from './SimDevice.js';

const run = 't' + randomUUID().slice(0, 8);
const nodes: NodeProcess[] = [];
after(async () => {
  for (const n of nodes) n.kill('SIGKILL');
  await Promise.all(nodes.map((n) => n.exited));
});

test('3-node cluster: devices spread over nodes exchange 1:1 and group messages; a node SIGKILLed mid-traffic loses nothing acknowledged', {
  timeout: 180_000,
}, async () => {
  for (let i = 1; i <= 3; i++) nodes.push(new NodeProcess(clusterEnv(run, { CHAT_NODE_ID: `node-${i}` })));
  const addrs = await Promise.all(nodes.map((n) => n.ready()));
  const api = new Api(addrs[0]!);
  const alice = await registerAndLogin(api, `alice_${run}`, ['a1', 'a2', 'a3']);
  const bob = await registerAndLogin(api, `bob_${run}`, ['b1', 'b2', 'b3']);
  const carol = await registerAndLogin(api, `carol_${run}`, ['c1', 'c2']);
  const dm = (await alice[0]!.openDirect(bob[0]!.userName)).channel!.channelId;
  const group = (await alice[0]!.createGroup('trio', [bob[0]!.userName, carol[0]!.userName])).channel!.channelId;
  api.close();

  const live = () => nodes.filter((n) => n !== nodes[1] || !killed).map((n) => n.address);
  let killed = false;
  const all: Device[] = [...alice, ...bob, ...carol];
  const devices = all.map((d, i) => new SimDevice(d, addrs[i % 3]!, live));
  await Promise.all(devices.map((d) => d.connect()));
  const onVictim = devices.filter((d) => d.node === addrs[1]);
  assert.ok(onVictim.length >= 2);

  const ROUNDS = 15;
  for (let r = 0; r < ROUNDS; r++) {
    for (const d of devices) {
      const isCarol = d.label.startsWith('carol');
      d.send(isCarol || r % 2 ? group : dm, `${d.label} r${r}`);
    }
    if (r === 5) {
      killed = true;
      nodes[1]!.kill('SIGKILL');
    }
    await sleep(30);
  }

  // Every send ends acknowledged (resent after reconnects where needed).
  const deadline = Date.now() + 90_000;
  while (devices.some((d) => d.pending.size) && Date.now() < deadline) await sleep(100);
  const stuck = devices.filter((d) => d.pending.size).map((d) => `${d.label}: ${d.pending.size}`);
  assert.deepEqual(stuck, [], 'every message acknowledged');
  assert.ok(
    onVictim.every((d) => d.reconnects >= 1),
    'the victim node’s devices reconnected elsewhere',
  );
  assert.ok(onVictim.every((d) => d.node !== addrs[1]));

  const ackedIn = new Map<string, Set<number>>([
    [dm, new Set()],
    [group, new Set()],
  ]);
  for (const d of devices) for (const a of d.acked.values()) ackedIn.get(a.channelId)!.add(a.id);
  assert.equal(
    [...ackedIn.values()].reduce((n, s) => n + s.size, 0),
    devices.length * ROUNDS,
    'one message per acknowledged send, no duplicates',
  );

  const members = (d: SimDevice) => (d.label.startsWith('carol') ? [group] : [dm, group]);
  const complete = () => devices.every((d) => members(d).every((ch) => [...ackedIn.get(ch)!].every((id) => d.received.get(ch)?.includes(id))));
  const until = Date.now() + 30_000;
  while (!complete() && Date.now() < until) await sleep(100);
  for (const d of devices) {
    for (const ch of members(d)) {
      const ids = d.received.get(ch) ?? [];
      for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `${d.label} ${ch}: in order, no repeat (${ids[i - 1]} then ${ids[i]})`);
      const missing = [...ackedIn.get(ch)!].filter((id) => !ids.includes(id));
      assert.deepEqual(missing, [], `${d.label} has every acknowledged message of ${ch}`);
    }
  }
  devices.forEach((d) => d.stop());
});
