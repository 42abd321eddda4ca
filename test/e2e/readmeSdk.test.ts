import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatClient } from '../../src/client/index.js';
import { testNode } from '../support/node.js';

const ROOT = join(fileURLToPath(import.meta.url), '../../../..');

/** The README's SDK example, as written there (the js block after `<!-- sdk-example -->`). */
function readmeSnippet(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- sdk-example -->\s*```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has the sdk-example block');
  return m[1]!;
}

test("README: a backend service posts a message with the SDK in about ten lines, and it arrives as the service's", async () => {
  const secret = `s3cret:${randomUUID()}`;
  const env = await testNode({ CHAT_SERVICE_KEYS: `alerts=${secret}` });
  const file = join(ROOT, 'dist', `readme-sdk-${randomUUID().slice(0, 8)}.mjs`);
  const alice = new ChatClient(env.node.address);
  try {
    const name = `ops_${randomUUID().slice(0, 6)}`;
    await alice.accounts.register({ userName: name, password: 'correct horse battery' });
    await alice.login(name, 'correct horse battery', 'd1');
    const group = (await alice.chat.createGroup({ title: 'deploys', members: [] })).channel!.channelId;
    const snippet = readmeSnippet();
    assert.ok(snippet.trim().split('\n').length <= 12, 'about ten lines');
    writeFileSync(file, snippet); // inside the package, so `grpc-chat/client` resolves to this checkout
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [file],
        { env: { ...process.env, CHAT_SERVER: env.node.address, ALERTS_SECRET: secret, CHANNEL_ID: group }, timeout: 20_000 },
        (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    const [m] = (await alice.chat.listHistory({ channelId: group, beforeId: 0, limit: 5 })).messages;
    assert.equal(out.trim(), `posted #${m!.id}`);
    assert.equal(m!.body, 'deploy 142 is live');
    assert.equal(m!.senderUserId, 'svc:alerts');
  } finally {
    rmSync(file, { force: true });
    alice.close();
    await env.stop();
  }
});
