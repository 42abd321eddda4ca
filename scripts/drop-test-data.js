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
const prefixes = [...new Set(lines.map((l) => l.prefix).filter(Boolean))];
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
if (prefixes.length) {
  const r = new Redis(process.env.CHAT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  try {
    for (const p of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await r.unlink(...keys);
      } while (cursor !== '0');
    }
  } catch (e) {
    console.error(`test cleanup: Redis: ${e.message}`);
  } finally {
    r.disconnect();
  }
}
rmSync(file, { force: true });
console.log(`# test cleanup: dropped ${keyspaces.length} keyspaces and ${prefixes.length} key prefixes in ${Date.now() - t0} ms`);
