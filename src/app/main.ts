import { loadConfig, type Config } from './config.js';
import { startNode } from './node.js';

/** `node dist/src/app/main.js`: one chat node configured from CHAT_* variables. */
async function main() {
  let cfg: Config;
  try {
    cfg = loadConfig();
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  let node: Awaited<ReturnType<typeof startNode>>;
  try {
    node = await startNode(cfg);
  } catch (e) {
    // A node that cannot start must not linger half-started (the process guard would keep it alive): say why and exit.
    console.error(`chat node ${cfg.CHAT_NODE_ID} failed to start: ${(e as Error)?.message ?? String(e)}`);
    process.exit(1);
  }
  const store = cfg.CHAT_STORE === 'memory' ? 'in-memory adapters (nothing survives a restart)' : cfg.CHAT_STORE;
  console.error(
    `chat node ${cfg.CHAT_NODE_ID} listening on ${node.address} with ${store}\n` +
      `web client and grpc-web: http://${cfg.CHAT_HOST}:${node.webPort}/   metrics: http://${cfg.CHAT_HOST}:${node.metricsPort}/metrics\n` +
      `try it:  npx chat --as alice register && npx chat --as alice talk bob   (see README)`,
  );
  let signals = 0;
  const shutdown = (sig: string) => {
    if (++signals > 1) process.exit(1);
    console.error(`${sig}: draining (grace ${cfg.CHAT_SHUTDOWN_GRACE_MS} ms)`);
    void node.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();
