// Runs every compiled *.test.js under dist/ with node's test runner, then the
// end-to-end suites a second time on the production stack
// (CHAT_TEST_STORE=scylla: Cassandra + Redis) and a third time on Cassandra +
// Redis Cluster (CHAT_TEST_STORE=scylla-cluster), unchanged.
// Usage: node scripts/run-tests.js [filter-substring]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';

const filter = process.argv[2] ?? '';
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.test.js') && p.includes(filter)) files.push(p);
  }
};
walk('dist');
files.sort();
if (files.length === 0) {
  console.error(`no test files match "${filter}"`);
  process.exit(1);
}
// Keyspaces and Redis prefixes the tests create are listed here and dropped after each pass.
const ledger = join(tmpdir(), `grpc-chat-test-ledger-${process.pid}`);
const run = (list, env = {}) => {
  // --test-force-exit: a test file whose tests are done is not held open by a library's stray timer.
  const status =
    spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-force-exit', '--test-reporter=spec', ...list], {
      stdio: 'inherit',
      env: { ...process.env, CHAT_TEST_LEDGER: ledger, ...env },
    }).status ?? 1;
  spawnSync(process.execPath, ['scripts/drop-test-data.js', ledger], { stdio: 'inherit' });
  return status;
};

let status = run(files);
const core = files.filter((f) => f.startsWith('dist/test/e2e/'));
if (core.length && !process.env.CHAT_TEST_STORE) {
  console.log(`\n# the end-to-end suites again, unchanged, on Cassandra + Redis: ${core.length} files`);
  // Run even after a failure above: a red build shows every failure at once.
  status = run(core, { CHAT_TEST_STORE: 'scylla' }) || status;
  console.log(`\n# the end-to-end suites again, unchanged, on Cassandra + Redis Cluster: ${core.length} files`);
  status = run(core, { CHAT_TEST_STORE: 'scylla-cluster' }) || status;
}
process.exit(status);
