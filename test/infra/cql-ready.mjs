// Waits until a CQL node answers `SELECT release_version FROM system.local`.
// Used by test/infra/cassandra.sh (start-up gate) and handy by hand.
// Usage: node test/infra/cql-ready.mjs [--host 127.0.0.1] [--port 9042]
//          [--timeout-s 0] [--pid PID]
// --timeout-s 0 means a single attempt. With --pid, gives up as soon as that
// process is gone (a node that crashed during start-up never becomes ready).
// Exit 0 and prints the release version when ready; 1 on timeout; 2 when the
// --pid process exited first.
import cassandra from 'cassandra-driver';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const host = opt('host', '127.0.0.1');
const port = Number(opt('port', '9042'));
const timeoutMs = Number(opt('timeout-s', '0')) * 1000;
const pid = opt('pid', '');
const deadline = Date.now() + timeoutMs;

const alive = () => {
  if (!pid) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
};

async function attempt() {
  const client = new cassandra.Client({
    contactPoints: [`${host}:${port}`],
    localDataCenter: 'datacenter1',
    socketOptions: { connectTimeout: 2000, readTimeout: 5000 },
    policies: { reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(60_000) },
    pooling: { warmup: false },
  });
  try {
    await client.connect();
    const rs = await client.execute('SELECT release_version FROM system.local');
    return rs.first()?.release_version ?? 'unknown';
  } finally {
    await client.shutdown().catch(() => {});
  }
}

let lastError = '';
for (;;) {
  try {
    const version = await attempt();
    console.log(`CQL ready at ${host}:${port} (release ${version})`);
    process.exit(0);
  } catch (e) {
    lastError = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  }
  if (Date.now() >= deadline) break;
  if (!alive()) {
    console.error(`process ${pid} exited before CQL came up`);
    process.exit(2);
  }
  await new Promise((r) => setTimeout(r, 1000));
}
console.error(`no CQL at ${host}:${port}: ${lastError}`);
process.exit(1);
