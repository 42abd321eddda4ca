import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, testNode } from '../support/node.js';
import { chat } from '../support/cli.js';

/** Issue 11: the CLI renews its own tokens, and has devices, revoke, passwd and logout. */
test('cli: expired access tokens renew themselves; revoke, passwd and logout sign devices out', { timeout: 90_000 }, async () => {
  // 2-second access tokens: every run finds its token expiring and refreshes it first.
  const { node, stop } = await testNode({ CHAT_TOKEN_TTL_MS: '2000' });
  const home = await mkdtemp(join(tmpdir(), 'chat-cli-s-'));
  const server = node.address;
  const run = async (args: string[], expect = 0) => {
    const r = await chat(home, server, args);
    assert.equal(r.code, expect, `chat ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const profile = async (name: string) => JSON.parse(await readFile(join(home, `${name}.json`), 'utf8'));
  try {
    await run(['--as', 'al', 'register', 'alice', '--password', 'al-password', '--device', 'laptop']);
    const first = await profile('al');
    assert.ok(first.refreshToken);
    await sleep(2100); // the saved access token has expired
    await run(['--as', 'al', 'channels']);
    await run(['--as', 'al', 'channels']);
    const later = await profile('al');
    assert.notEqual(later.refreshToken, first.refreshToken, 'rotated');
    assert.ok(later.expiresAtMs > Date.now());

    await run(['--as', 'phone', 'login', 'alice', '--password', 'al-password', '--device', 'phone']);
    await run(['--as', 'tablet', 'login', 'alice', '--password', 'al-password', '--device', 'tablet']);
    assert.match((await run(['--as', 'al', 'devices'])).stdout, /phone[\s\S]*tablet/);
    assert.match((await run(['--as', 'al', 'revoke', 'phone'])).stdout, /device phone signed out/);
    assert.match((await run(['--as', 'phone', 'channels'], 1)).stderr, /signed out/);

    const pw = await run(['--as', 'al', 'passwd', '--password', 'al-password', '--new-password', 'al-new-password']);
    assert.match(pw.stdout, /1 other device\(s\) signed out/);
    assert.match((await run(['--as', 'tablet', 'channels'], 1)).stderr, /signed out/);
    await run(['--as', 'al', 'channels']);

    await run(['--as', 'al', 'logout']);
    assert.match((await run(['--as', 'al', 'channels'], 1)).stderr, /not logged in/);
  } finally {
    await rm(home, { recursive: true, force: true });
    await stop();
  }
});
