import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

/**
 * The 3-server ensemble of test/infra/zookeeper.sh (`make infra`). Tests that
 * kill a server bring it back with `ensureEnsemble`, which starts only the
 * missing servers.
 */
const DIR = process.env.CHAT_ZK_DIR ?? '/tmp/grpc-chat-zookeeper';
const BASE = Number(process.env.CHAT_ZK_CLIENT_PORT ?? 2181);
export const ZK_IDS = [1, 2, 3] as const;
export const zkPort = (id: number) => BASE + id - 1;
export const ZK_CONNECT = ZK_IDS.map((i) => `127.0.0.1:${zkPort(i)}`).join(',');

/** Starts the servers that are not running (reusing the others) and waits until all three serve. */
export function ensureEnsemble() {
  const r = spawnSync('bash', ['test/infra/zookeeper.sh'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`test/infra/zookeeper.sh failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

/** "leader", "follower", or undefined when the server is down or not in a quorum (four-letter word srvr). */
export function zkMode(id: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let out = '';
    const s = connect(zkPort(id), '127.0.0.1', () => s.end('srvr'));
    s.setTimeout(1000, () => s.destroy());
    s.on('data', (d) => (out += d));
    s.on('error', () => {});
    s.on('close', () => resolve(/^Mode: (\w+)/m.exec(out)?.[1]));
  });
}

/** SIGKILLs one server of the ensemble; returns its pid. */
export function killZkServer(id: number) {
  const pid = Number(readFileSync(`${DIR}/zk${id}/pid`, 'utf8'));
  process.kill(pid, 'SIGKILL');
  return pid;
}
