// Runs every compiled *.test.js under dist/ with node's test runner, then the
// end-to-end suites a second time on the production stack
// (CHAT_TEST_STORE=scylla: Cassandra + Redis) and a third time on Cassandra +
// Redis Cluster (CHAT_TEST_STORE=scylla-cluster), unchanged.
// Usage: node scripts/run-tests.js [filter-substring]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn, spawnSync } from 'node:child_process';

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
// CI keeps only the tail of a run's output, so each pass's list of failed tests (the
// spec reporter's "failing tests" section, stack frames left out) is printed again at the
// very end, under the pass's name.
const failures = [];
const failingSection = (out) => {
  const at = out.lastIndexOf('✖ failing tests:');
  if (at < 0) return [];
  return out
    .slice(at + '✖ failing tests:'.length)
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\s+at /.test(l) && !/^[\s}]*$/.test(l))
    .slice(0, 60);
};
const run = async (label, list, env = {}) => {
  // --test-force-exit: a test file whose tests are done is not held open by a library's stray timer.
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-force-exit', '--test-reporter=spec', ...list], {
    stdio: ['inherit', 'pipe', 'inherit'],
    env: { ...process.env, CHAT_TEST_LEDGER: ledger, ...env },
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    out = (out + chunk).slice(-200_000);
  });
  const status = await new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  spawnSync(process.execPath, ['scripts/drop-test-data.js', ledger], { stdio: 'inherit' });
  if (status !== 0) {
    const lines = failingSection(out);
    failures.push(`# ${label}: exit status ${status}`, ...(lines.length ? lines : ['  (the report names no failed test)']));
  }
  return status;
};

let status = await run('pass 1: every test, e2e on the embedded default', files);
const core = files.filter((f) => f.startsWith('dist/test/e2e/'));
if (core.length && !process.env.CHAT_TEST_STORE) {
  console.log(`\n# the end-to-end suites again, unchanged, on Cassandra + Redis: ${core.length} files`);
  // Run even after a failure above: a red build shows every failure at once.
  status = (await run('pass 2: e2e on Cassandra + Redis', core, { CHAT_TEST_STORE: 'scylla' })) || status;
  console.log(`\n# the end-to-end suites again, unchanged, on Cassandra + Redis Cluster: ${core.length} files`);
  status = (await run('pass 3: e2e on Cassandra + Redis Cluster', core, { CHAT_TEST_STORE: 'scylla-cluster' })) || status;
}
console.log(failures.length ? `\n# FAILED\n${failures.join('\n')}` : '\n# every pass green');
process.exit(status);
