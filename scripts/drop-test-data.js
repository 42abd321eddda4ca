// Drops the keyspaces and Redis key prefixes listed in a test ledger
// (test/support/ledger.ts), on the shared Cassandra and Redis. Best effort:
// a failure is reported and the run's result is not changed.
// Usage: node scripts/drop-test-data.js <ledger file>
import { readFileSync, rmSync } from 'node:fs';
import cassandra from 'cassandra-driver';
import { Redis } from 'ioredis';

const file = process.argv[2];
let lines = [];
try {
  lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
} catch {
  process.exit(0);
}
const keyspaces = [...new Set(lines.map((l) => l.keyspace).filter(Boolean))];
const prefixes = [
  ...new Set(
    lines
      .filter((l) => !l.cluster)
      .map((l) => l.prefix)
      .filter(Boolean),
  ),
];
const clusterPrefixes = [
  ...new Set(
    lines
      .filter((l) => l.cluster)
      .map((l) => l.prefix)
      .filter(Boolean),
  ),
];
const t0 = Date.now();
if (keyspaces.length) {
  const port = process.env.CHAT_CASSANDRA_PORT ?? '9042';
  const c = new cassandra.Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1', socketOptions: { readTimeout: 60_000 } });
  try {
    await c.connect();
    for (const k of keyspaces) await c.execute(`DROP KEYSPACE IF EXISTS "${k}"`).catch((e) => console.error(`drop ${k}: ${e.message}`));
  } catch (e) {
    console.error(`test cleanup: Cassandra: ${e.message}`);
  } finally {
    await c.shutdown().catch(() => {});
  }
}
/** Unlinks every key under the prefixes, one key per command (keys of a cluster live in many slots). */
async function unlinkPrefixes(r, ps) {
  for (const p of ps) {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000);
      cursor = next;
      await Promise.all(keys.map((k) => r.unlink(k)));
    } while (cursor !== '0');
  }
}
if (prefixes.length) {
  const r = new Redis(process.env.CHAT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  await unlinkPrefixes(r, prefixes).catch((e) => console.error(`test cleanup: Redis: ${e.message}`));
  r.disconnect();
}
if (clusterPrefixes.length) {
  // On the test cluster each master holds part of the keys: scan every master.
  for (const port of [7101, 7102, 7103, 7104, 7105, 7106]) {
    const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await r.connect();
      if ((await r.info('replication')).includes('role:master')) await unlinkPrefixes(r, clusterPrefixes);
    } catch (e) {
      console.error(`test cleanup: Redis Cluster ${port}: ${e.message}`);
    }
    r.disconnect();
  }
}
rmSync(file, { force: true });
console.log(`# test cleanup: dropped ${keyspaces.length} keyspaces and ${prefixes.length + clusterPrefixes.length} key prefixes in ${Date.now() - t0} ms`);
