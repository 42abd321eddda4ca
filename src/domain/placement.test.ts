import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type NodeLoad, Placement, pickNode } from './placement.js';

const node = (nodeId: string, connections: number, region = 'eu', capacity = 1000): NodeLoad => ({
  nodeId,
  address: `${nodeId}:1`,
  region,
  connections,
  capacity,
});

const tally = (picks: (string | undefined)[]) => picks.reduce((m, id) => m.set(id!, (m.get(id!) ?? 0) + 1), new Map<string, number>());

test('placement: 3 equally loaded nodes, 300 picks: every node gets at least 20%', () => {
  const nodes = [node('a', 10), node('b', 10), node('c', 10)];
  const counts = tally(Array.from({ length: 300 }, () => pickNode(nodes, 'eu')?.nodeId));
  for (const id of ['a', 'b', 'c']) assert.ok((counts.get(id) ?? 0) >= 60, `${id}: ${counts.get(id) ?? 0} of 300 (${JSON.stringify([...counts])})`);
});

test('placement: the hinted region first, any region when it has no node; the most loaded of several is never picked', () => {
  const nodes = [node('a', 500), node('b', 200), node('c', 0, 'us'), node('d', 900, 'ap')];
  for (let i = 0; i < 200; i++) {
    assert.equal(pickNode(nodes, 'eu')?.nodeId, 'b', 'two candidates: the less loaded one, always');
    assert.equal(pickNode(nodes, 'us')?.nodeId, 'c');
    assert.notEqual(pickNode(nodes, 'mars')?.nodeId, 'd', 'no node in the region: all nodes, never the most loaded');
    assert.notEqual(pickNode(nodes, '')?.nodeId, 'd');
  }
  const counts = tally(Array.from({ length: 600 }, () => pickNode(nodes, '')?.nodeId));
  assert.ok(counts.get('c')! > counts.get('b')! && counts.get('b')! > counts.get('a')!, `less loaded, picked more: ${JSON.stringify([...counts])}`);
  assert.equal(pickNode([], 'eu'), undefined);
  assert.deepEqual(pickNode([node('x', 5, 'us')], 'eu'), { nodeId: 'x', address: 'x:1', region: 'us' });
});

test('placement: the load ratio counts capacity; every draw of the random source maps to a valid pair', () => {
  const nodes = [node('small', 50, 'eu', 100), node('big', 300, 'eu', 1000)];
  assert.equal(pickNode(nodes, 'eu')?.nodeId, 'big', '0.3 < 0.5');
  for (const r of [0, 0.25, 0.5, 0.999999]) {
    const three = [node('a', 1), node('b', 2), node('c', 3)];
    assert.ok(['a', 'b'].includes(pickNode(three, 'eu', () => r)!.nodeId), `random() = ${r}`);
  }
});

test('placement: a reconnect storm of 1,000 devices over views that lag 50 arrivals behind ends with the survivors within 20%', () => {
  // 3 nodes; every device picks from a view refreshed only every 50 arrivals
  // (load reports travel slower than a storm lands). Then c dies and all of
  // its devices, and again every device, reconnect at once.
  const live = new Map([
    ['a', 0],
    ['b', 0],
    ['c', 0],
  ]);
  const where: string[] = [];
  const connect = (devices: number[]) => {
    let view: NodeLoad[] = [];
    devices.forEach((d, k) => {
      if (k % 50 === 0) view = [...live].map(([id, n]) => node(id, n));
      const id = pickNode(view, 'eu')!.nodeId;
      where[d] = id;
      live.set(id, live.get(id)! + 1);
    });
  };
  connect(Array.from({ length: 1000 }, (_, d) => d));
  live.delete('c');
  connect(where.flatMap((id, d) => (id === 'c' ? [d] : [])));
  const [a, b] = [live.get('a')!, live.get('b')!];
  assert.equal(a + b, 1000);
  assert.ok(Math.abs(a - b) <= 0.2 * Math.min(a, b), `survivors ${a} and ${b}`);
  for (const id of ['a', 'b']) live.set(id, 0);
  connect(Array.from({ length: 1000 }, (_, d) => d)); // the whole fleet at once, as after a network blip
  const [a2, b2] = [live.get('a')!, live.get('b')!];
  assert.ok(Math.abs(a2 - b2) <= 0.2 * Math.min(a2, b2), `whole fleet: ${a2} and ${b2}`);
});

test('placement: a storm over a view that does not change at all is split between 2 survivors, each picker counting its own answers', () => {
  // Two pickers (the survivors answer PickServer), each with a frozen view:
  // no load report arrives during the storm. Bare power of two choices over
  // two candidates is "the less loaded one": every answer would name a.
  const view = [node('a', 330), node('b', 335)];
  const pickers = [new Placement(), new Placement()];
  const counts = tally(Array.from({ length: 340 }, (_, i) => pickers[i % 2]!.pick(view, 'eu')?.nodeId));
  const [a, b] = [330 + (counts.get('a') ?? 0), 335 + (counts.get('b') ?? 0)];
  // Each picker evens out the 5-connection gap on its own, so a ends at most 2 x 5 ahead: 670 against 335 bare.
  assert.ok(Math.abs(a - b) <= 10, `survivors ${a} and ${b} (${JSON.stringify([...counts])})`);
  assert.equal(tally(Array.from({ length: 20 }, () => pickNode(view, 'eu')?.nodeId)).get('a'), 20, 'bare pickNode: all to a');
});

test('placement: own answers stop counting once the node reports a new figure, or after forgetMs', () => {
  let now = 0;
  const p = new Placement(1000, () => now);
  for (let i = 0; i < 10; i++) p.pick([node('a', 0), node('b', 0)], 'eu');
  // a reports 5 (half of what it was sent arrived), b still reports 0: a's own count is dropped, b's kept (5 of ours).
  const afterReport = tally(Array.from({ length: 4 }, () => p.pick([node('a', 5), node('b', 0)], 'eu')?.nodeId));
  assert.equal(afterReport.get('a') ?? 0, 2, `a at 5 vs b at 0 + 5 placed: they alternate (${JSON.stringify([...afterReport])})`);
  now = 1001;
  assert.equal(p.pick([node('a', 7), node('b', 0)], 'eu')?.nodeId, 'b', 'after forgetMs b counts only its report');
  assert.equal(p.pick([node('x', 0)], 'eu')?.nodeId, 'x', 'nodes that left are forgotten');
  assert.equal(p.pick([], 'eu'), undefined);
});
