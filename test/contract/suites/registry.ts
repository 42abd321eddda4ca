import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { eventually, type Factories } from './support.js';

/** The Registry contract, for every adapter. */
export function registrySuite(name: string, make: NonNullable<Factories['registry']>) {
  test(`${name} Registry: members see each other, the hinted region wins, a leaver drops out`, async () => {
    const [a, b] = await make();
    try {
      const id = () => 'n_' + randomUUID().slice(0, 8);
      const na = { nodeId: id(), address: '127.0.0.1:50001', region: 'r-a' };
      const nb = { nodeId: id(), address: '127.0.0.1:50002', region: 'r-b' };
      await a.join({ ...na, capacity: 10 }, () => 0);
      await b.join({ ...nb, capacity: 10 }, () => 0);
      for (const [name, r] of [
        ['a', a],
        ['b', b],
      ] as const) {
        await eventually(`${name} picks a for r-a`, async () => (await r.pick('r-a'))?.nodeId === na.nodeId);
        await eventually(`${name} picks b for r-b`, async () => (await r.pick('r-b'))?.nodeId === nb.nodeId);
      }
      assert.deepEqual(await b.pick('r-a'), na, 'pick answers the node as it joined');
      assert.deepEqual(await a.alternative(na.nodeId), nb);
      assert.deepEqual(await b.alternative(nb.nodeId), na);
      await a.leave();
      assert.notEqual((await a.pick('r-a'))?.nodeId, na.nodeId, 'a leaver drops out of its own view at once');
      assert.deepEqual(await a.alternative(na.nodeId), nb, 'a leaver still knows where to send its clients');
      await eventually('b stops picking a', async () => (await b.pick('r-a'))?.nodeId === nb.nodeId);
      assert.equal(await b.alternative(nb.nodeId), undefined);
      await b.leave();
      assert.equal(await b.pick('r-b'), undefined, 'undefined once no healthy node is known');
    } finally {
      await a.close();
      await b.close();
    }
  });
}
