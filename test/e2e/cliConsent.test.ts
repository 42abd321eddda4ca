import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testNode } from '../support/node.js';
import { chat } from '../support/cli.js';

/** Issue 11: the CLI's invites, accept, decline, block, unblock, blocked and mute. */
test('cli: invitations are listed, accepted and declined; block and mute', { timeout: 90_000 }, async () => {
  const { node, stop } = await testNode({ CHAT_CONSENT: 'invite' });
  const home = await mkdtemp(join(tmpdir(), 'chat-cli-c-'));
  const run = async (args: string[], expect = 0) => {
    const r = await chat(home, node.address, args);
    assert.equal(r.code, expect, `chat ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  try {
    for (const u of ['ann', 'ben', 'cat']) await run(['--as', u, 'register', u, '--password', `${u}-password`]);
    const direct = (await run(['--as', 'ann', 'dm', 'ben'])).stdout.trim();
    await run(['--as', 'ann', 'send', direct, 'hello ben']);
    const listed = (await run(['--as', 'ben', 'invites'])).stdout;
    assert.match(listed, new RegExp(`${direct}\\s+a direct chat from ann`));
    assert.match((await run(['--as', 'ben', 'accept', direct])).stdout, /joined the direct chat/);
    assert.match((await run(['--as', 'ben', 'history', direct])).stdout, /hello ben/);
    assert.match((await run(['--as', 'ben', 'invites'])).stdout, /no pending invitations/);

    await run(['--as', 'cat', 'group', 'create', 'cats', 'ben']);
    const group = /(g_[a-f0-9]{32})/.exec((await run(['--as', 'ben', 'invites'])).stdout)![1]!;
    assert.match((await run(['--as', 'ben', 'decline', group, '--block'])).stdout, /declined .* and blocked the inviter/);
    assert.match((await run(['--as', 'ben', 'blocked'])).stdout, /^cat /m);
    assert.match((await run(['--as', 'cat', 'dm', 'ben'], 1)).stderr, /PERMISSION_DENIED/);
    await run(['--as', 'ben', 'unblock', 'cat']);
    assert.match((await run(['--as', 'ben', 'blocked'])).stdout, /you blocked nobody/);

    assert.match((await run(['--as', 'ben', 'mute', 'ann', '30'])).stdout, /muted ann until/);
    assert.match((await run(['--as', 'ben', 'mute', 'ann', 'off'])).stdout, /unmuted ann/);
  } finally {
    await rm(home, { recursive: true, force: true });
    await stop();
  }
});
