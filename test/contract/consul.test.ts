import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { answeredAtOnce, contractSuites, eventually } from './suites.js';
import { ConsulRegistry, type ConsulRegistryOptions } from '../../src/adapters/consul/ConsulRegistry.js';
import { ConsulStandIn } from '../support/consulStandIn.js';
import type { SelfInfo } from '../../src/ports/Registry.js';

// No Consul server can run here: these tests talk to ConsulStandIn, which
// implements the slice of Consul's HTTP API the adapter uses (see its header).
// The reaper runs every 100 ms with no 1-minute floor, so deregistration fits in a test.
const consul = new ConsulStandIn({ minDeregisterMs: 0, reapIntervalMs: 100 });
before(() => consul.start());
after(() => consul.close());

const uid = () => randomUUID().slice(0, 8);
const healthGets = (service: string, since = 0) => consul.requests((r) => r.at >= since && r.method === 'GET' && r.path === `/v1/health/service/${service}`);

/** Registries for one test, on a service name of their own; all closed by `close`. */
function cluster(opts: Partial<ConsulRegistryOptions> = {}) {
  const serviceName = `chat-${uid()}`;
  const made: ConsulRegistry[] = [];
  return {
    serviceName,
    make: (more: Partial<ConsulRegistryOptions> = {}) => {
      const r = new ConsulRegistry({ host: '127.0.0.1', port: consul.port, serviceName, waitSeconds: 5, ...opts, ...more });
      made.push(r);
      return r;
    },
    close: () => Promise.all(made.map((r) => r.close())),
  };
}

const node = (region: string, capacity = 100): SelfInfo => ({
  nodeId: `n-${uid()}`,
  address: `127.0.0.1:${50000 + Math.floor(Math.random() * 10000)}`,
  region,
  capacity,
});
const info = ({ nodeId, address, region }: SelfInfo) => ({ nodeId, address, region });

contractSuites({
  name: 'consul',
  registry: async () => {
    const c = cluster({ ttlSeconds: 1 });
    return [c.make(), c.make()];
  },
});

test('consul: join registers address, port, Meta and a passing TTL check; Meta follows the load; leave deregisters', { timeout: 10_000 }, async () => {
  const c = cluster({ ttlSeconds: 0.9, zone: 'eu-west-1a', deregisterAfter: '90s' });
  try {
    const r = c.make();
    const self: SelfInfo = { nodeId: `n-${uid()}`, address: '10.0.0.5:50051', region: 'eu', capacity: 100 };
    let load = 7;
    await r.join(self, () => load);
    assert.deepEqual(consul.service(self.nodeId), {
      ID: self.nodeId,
      Service: c.serviceName,
      Address: '10.0.0.5',
      Port: 50051,
      Tags: [],
      Meta: { region: 'eu', zone: 'eu-west-1a', connections: '7', capacity: '100' },
      Check: {
        CheckID: `service:${self.nodeId}`,
        Name: `${c.serviceName} TTL`,
        Status: 'passing',
        Output: '',
        TTL: '900ms',
        DeregisterCriticalServiceAfter: '90s',
      },
    });
    await eventually('the node is in its own view', async () => (await r.pick('eu'))?.address === '10.0.0.5:50051');
    load = 9;
    await eventually('Meta.connections follows the load', async () => consul.service(self.nodeId)?.Meta.connections === '9', 1500);

    const v6 = c.make();
    const self6: SelfInfo = { nodeId: `n-${uid()}`, address: '[::1]:6000', region: 'v6', capacity: 1 };
    await v6.join(self6, () => 0);
    assert.equal(consul.service(self6.nodeId)?.Address, '::1');
    assert.equal(consul.service(self6.nodeId)?.Port, 6000);
    await eventually('IPv6 address comes back bracketed', async () => (await r.pick('v6'))?.address === '[::1]:6000');

    await r.leave();
    assert.equal(consul.service(self.nodeId), undefined);
  } finally {
    await c.close();
  }
});

test('consul: pick prefers the hinted region, then the lower connections/capacity ratio (power of two choices), as loads change', {
  timeout: 10_000,
}, async () => {
  const c = cluster({ ttlSeconds: 0.9 });
  try {
    const [ra, rb, rc] = [c.make(), c.make(), c.make()];
    // Every answer counts towards its node in the answering registry's eyes (placement.ts),
    // about 650 answers per registry here: capacities large enough that they do not reorder
    // the nodes (cc ends below 0.05, b below 0.21), so the test shows the rule on Consul's loads.
    // 300 picks per hint: cc should get 2/3 of them (it wins both pairs it is in), and falling
    // to b's share by chance is more than 6 standard deviations away (60 picks: 2.6, a 3% flake).
    const a = node('eu', 5000); // 4500/5000 = 0.9
    const b = node('eu', 30_000); // 6000/30000 = 0.2: more connections than a, a lower ratio; until it becomes 28500/30000
    const cc = node('us', 10_000); // 0/10000 = 0
    let loadB = 6000;
    await Promise.all([ra.join(a, () => 4500), rb.join(b, () => loadB), rc.join(cc, () => 0)]);
    for (const r of [ra, rb, rc]) {
      await eventually('all three nodes in view', async () => (await r.pick('eu'))?.nodeId === b.nodeId && (await r.pick('us'))?.nodeId === cc.nodeId);
      assert.deepEqual(await r.pick('eu'), info(b), 'same region, lower ratio');
      assert.deepEqual(await r.pick('us'), info(cc));
      // No node in the region: every node is a candidate, by power of two choices on the ratio
      // (placement.ts): the busiest never, the idlest most often.
      for (const hint of ['ap', '']) {
        const picks = await Promise.all(Array.from({ length: 300 }, () => r.pick(hint)));
        const count = (n: SelfInfo) => picks.filter((p) => p?.nodeId === n.nodeId).length;
        assert.equal(count(a), 0, `the most loaded node is never picked (hint "${hint}")`);
        assert.ok(count(cc) > count(b), `the lowest ratio anywhere wins most often: ${count(cc)} vs ${count(b)}`);
        assert.deepEqual(
          picks.find((p) => p?.nodeId === cc.nodeId),
          info(cc),
        );
      }
    }
    assert.deepEqual(await ra.alternative(b.nodeId), info(a), "alternative prefers the asking node's region");
    assert.deepEqual(await rc.alternative(cc.nodeId), info(b), 'then the lowest ratio');
    loadB = 28_500;
    for (const r of [ra, rb, rc]) await eventually('b is now the busier eu node', async () => (await r.pick('eu'))?.nodeId === a.nodeId, 2000);
  } finally {
    await c.close();
  }
});

test('consul: a frozen node turns critical and leaves every view within about a TTL, is reaped, and comes back when it thaws', {
  timeout: 10_000,
}, async () => {
  const ttlMs = 600;
  const c = cluster({ ttlSeconds: ttlMs / 1000, deregisterAfter: '1s' });
  try {
    const [ra, rb] = [c.make(), c.make()];
    const a = node('a');
    const b = node('b');
    await Promise.all([ra.join(a, () => 0), rb.join(b, () => 0)]);
    for (const r of [ra, rb])
      await eventually('both in view', async () => (await r.pick('b'))?.nodeId === b.nodeId && (await r.pick('a'))?.nodeId === a.nodeId);

    consul.freeze(b.nodeId); // b's passes and registrations no longer reach Consul
    const frozenAt = Date.now();
    await eventually("b leaves a's view", async () => (await ra.pick('b'))?.nodeId === a.nodeId, 2000);
    const gone = Date.now() - frozenAt;
    assert.ok(gone <= ttlMs + 500, `gone after ${gone} ms; TTL ${ttlMs} ms`);
    assert.ok(gone >= ttlMs / 3, `not before its TTL could run out (${gone} ms)`);
    assert.equal(consul.service(b.nodeId)?.Check?.Status, 'critical');
    await eventually('a stays in view while b is critical', async () => (await ra.pick('a'))?.nodeId === a.nodeId);

    await eventually('Consul reaps b after DeregisterCriticalServiceAfter', async () => consul.service(b.nodeId) === undefined, 2500);
    consul.thaw(b.nodeId);
    await eventually('b re-registers when its pass is refused, and is back', async () => (await ra.pick('b'))?.nodeId === b.nodeId, 2000);
    assert.equal(consul.service(b.nodeId)?.Check?.Status, 'passing');
  } finally {
    await c.close();
  }
});

test('consul: leave removes a node from the other views at once, long before its TTL', { timeout: 10_000 }, async () => {
  const c = cluster({ ttlSeconds: 30 });
  try {
    const [ra, rb] = [c.make(), c.make()];
    const a = node('a');
    const b = node('b');
    await Promise.all([ra.join(a, () => 0), rb.join(b, () => 0)]);
    await eventually('a sees b', async () => (await ra.pick('b'))?.nodeId === b.nodeId);
    const t0 = Date.now();
    await rb.leave();
    assert.equal((await rb.pick('b'))?.nodeId, a.nodeId, 'gone from its own view when leave resolves');
    await eventually("b leaves a's view", async () => (await ra.pick('b'))?.nodeId === a.nodeId, 2000);
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `left in ${ms} ms (TTL 30 s, wait 5 s)`);
    assert.equal(consul.service(b.nodeId), undefined);

    await eventually('both watchers are held: nothing is changing now', async () => consul.held === 2, 1000);
    const closing = Date.now();
    await rb.close();
    // The held query would answer after its 5 s wait; 1 s leaves room for a stall of a loaded box.
    assert.ok(Date.now() - closing < 1000, `close aborts the held query instead of waiting it out (${Date.now() - closing} ms)`);
    await eventually('the stand-in lets go of the aborted query', async () => consul.held === 1, 500);
  } finally {
    await c.close();
  }
});

test('consul: while Consul is down pick answers from the last good view; the watch recovers after', { timeout: 10_000 }, async () => {
  const c = cluster({ ttlSeconds: 5 });
  try {
    const [ra, rb] = [c.make(), c.make()];
    const a = node('a');
    const b = node('b');
    await Promise.all([ra.join(a, () => 0), rb.join(b, () => 0)]);
    for (const r of [ra, rb])
      await eventually('both in view', async () => (await r.pick('b'))?.nodeId === b.nodeId && (await r.pick('a'))?.nodeId === a.nodeId);

    const since = Date.now();
    const resetsBefore = consul.resets;
    for (const mode of ['error', 'reset'] as const) {
      consul.setDown(mode); // 'error': 500 No cluster leader; 'reset': connections die
      const until = Date.now() + 500;
      while (Date.now() < until) {
        for (const r of [ra, rb]) {
          const now = 'pick never waits on Consul';
          assert.deepEqual(await answeredAtOnce(r.pick('a'), now), info(a));
          assert.deepEqual(await answeredAtOnce(r.pick('b'), now), info(b));
          assert.deepEqual(await answeredAtOnce(r.alternative(a.nodeId), now), info(b));
        }
        await sleep(20);
      }
    }
    consul.setDown(false);
    const attempts = healthGets(c.serviceName, since).length + consul.resets - resetsBefore;
    assert.ok(attempts >= 2 && attempts <= 20, `retries back off during the 1 s outage: ${attempts} attempts`);

    const rc = c.make();
    const n = node('c');
    await rc.join(n, () => 0);
    for (const r of [ra, rb]) await eventually('the watch resumed: a newcomer shows up', async () => (await r.pick('c'))?.nodeId === n.nodeId, 3000);
  } finally {
    consul.setDown(false);
    await c.close();
  }
});

test('consul: views follow blocking queries, not polling: a quiet cluster sends almost no reads, a change still lands at once', {
  timeout: 10_000,
}, async () => {
  const c = cluster({ ttlSeconds: 0.6, waitSeconds: 5 });
  try {
    const rs = [c.make(), c.make(), c.make()];
    const nodes = [node('a'), node('b'), node('c')];
    await Promise.all(rs.map((r, i) => r.join(nodes[i]!, () => i)));
    for (const r of rs) for (const n of nodes) await eventually('all in view', async () => (await r.pick(n.region))?.nodeId === n.nodeId);
    await sleep(100);

    const since = Date.now();
    await sleep(1500);
    const reads = healthGets(c.serviceName, since).length;
    const passes = consul.requests((r) => r.at >= since && r.path.startsWith('/v1/agent/check/pass/') && nodes.some((n) => r.path.endsWith(n.nodeId))).length;
    assert.ok(reads <= 3, `${reads} health reads in a quiet 1.5 s from 3 registries`);
    assert.ok(passes >= 12, `TTL passes kept flowing (${passes}) without waking the watchers`);
    const all = healthGets(c.serviceName);
    const blocking = all.filter((r) => Number(r.query.get('index')) > 0 && r.query.get('wait') === '5s');
    assert.equal(all.length - blocking.length, rs.length, "only each registry's first read is not a blocking query");

    const r4 = c.make();
    const n4 = node('d');
    const t0 = Date.now();
    await r4.join(n4, () => 0);
    for (const r of rs) await eventually('a newcomer reaches held queries at once', async () => (await r.pick('d'))?.nodeId === n4.nodeId, 2000);
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `seen by all in ${ms} ms (wait is 5 s)`);
  } finally {
    await c.close();
  }
});
