import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testNode } from '../support/node.js';
import { CHAT, chat, childEnv, type Run } from '../support/cli.js';

test('cli: register two users, send a direct message, read it back', { timeout: 60_000 }, async () => {
  const { node, stop } = await testNode();
  const home = await mkdtemp(join(tmpdir(), 'chat-cli-'));
  try {
    const server = node.address;
    const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what} failed: ${r.stderr}`);

    ok(await chat(home, server, ['--as', 'alice', 'register', 'alice', '--password', 'alice-password']), 'register alice');
    ok(await chat(home, server, ['--as', 'bob', 'register', 'bob', '--password', 'bob-password']), 'register bob');

    const profile = JSON.parse(await readFile(join(home, 'alice.json'), 'utf8'));
    assert.equal(profile.userName, 'alice');
    assert.match(profile.userId, /^u_/);
    assert.ok(profile.token);
    assert.equal((await stat(join(home, 'alice.json'))).mode & 0o777, 0o600);

    const sent = await chat(home, server, ['--as', 'alice', 'send', 'bob', 'hello']);
    ok(sent, 'send');
    assert.match(sent.stdout, /sent #1 to bob/);

    const hist = await chat(home, server, ['--as', 'bob', 'history', 'alice']);
    ok(hist, 'history');
    assert.match(hist.stdout, /\[\d\d:\d\d:\d\d\] #1 alice: hello/);

    const dup = await chat(home, server, ['--as', 'carol', 'register', 'alice', '--password', 'whatever-pw']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /^error: .*\(ALREADY_EXISTS\)\n$/);
  } finally {
    await rm(home, { recursive: true, force: true });
    await stop();
  }
});

test('cli: tail resumes from the saved cursors without duplicates', { timeout: 60_000 }, async () => {
  const { node, stop } = await testNode();
  const home = await mkdtemp(join(tmpdir(), 'chat-cli-'));
  try {
    const server = node.address;
    for (const u of ['alice', 'bob']) {
      const r = await chat(home, server, ['--as', u, 'register', u, '--password', `${u}-password`]);
      assert.equal(r.code, 0, r.stderr);
    }
    await chat(home, server, ['--as', 'alice', 'send', 'bob', 'one']);
    const first = await tailFor(home, server, 'bob', 15_000);
    assert.match(first, /#1 alice: one/);
    assert.match(first, /-- caught up --/);

    await chat(home, server, ['--as', 'alice', 'send', 'bob', 'two']);
    const second = await tailFor(home, server, 'bob', 15_000);
    assert.match(second, /#2 alice: two/);
    assert.doesNotMatch(second, /alice: one/);
  } finally {
    await rm(home, { recursive: true, force: true });
    await stop();
  }
});

/**
 * Runs `chat tail` until it prints `-- caught up --` (a fixed 1.5 s was once too short for a
 * fresh process on a loaded box), then interrupts it; resolves with its stdout.
 */
function tailFor(home: string, server: string, as: string, deadlineMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = childEnv(home, server);
    const child = execFile(process.execPath, [CHAT, '--as', as, 'tail'], { env, timeout: deadlineMs + 5_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      clearTimeout(deadline);
      if (err) reject(new Error(`tail failed: ${err.message}\n${stderr}`));
      else resolve(String(stdout));
    });
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer | string) => {
      seen += String(chunk);
      if (seen.includes('-- caught up --')) child.kill('SIGINT');
    });
    const deadline = setTimeout(() => child.kill('SIGINT'), deadlineMs);
  });
}

test('cli: talk edits, deletes, reacts and replies; history shows the current state', { timeout: 60_000 }, async () => {
  const { node, stop } = await testNode();
  const home = await mkdtemp(join(tmpdir(), 'chat-cli-'));
  try {
    const server = node.address;
    const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what} failed: ${r.stderr}`);
    ok(await chat(home, server, ['--as', 'alice', 'register', 'alice', '--password', 'alice-password']), 'register alice');
    ok(await chat(home, server, ['--as', 'bob', 'register', 'bob', '--password', 'bob-password']), 'register bob');
    const input = ['hello', '/reply 1 answer', '/react 1 👍', '/edit 1 hello there', 'oops', '/delete 5', ''].join('\n');
    const talk = await new Promise<Run>((resolve) => {
      const child = execFile(
        process.execPath,
        [CHAT, '--as', 'alice', 'talk', 'bob'],
        { env: childEnv(home, server), timeout: 20_000 },
        (err, stdout, stderr) => resolve({ code: err ? -1 : 0, stdout: String(stdout), stderr: String(stderr) }),
      );
      child.stdin!.end(input);
    });
    ok(talk, 'talk');
    assert.match(talk.stdout, /alice edited #1: hello there/);
    assert.match(talk.stdout, /alice reacted 👍 on #1/);
    assert.match(talk.stdout, /alice deleted #5/);
    const hist = await chat(home, server, ['--as', 'bob', 'history', 'alice']);
    ok(hist, 'history');
    assert.match(hist.stdout, /#1 alice: hello there \(edited\) \[👍1\]/);
    assert.match(hist.stdout, /#2 alice: ↪#1 answer/);
    assert.match(hist.stdout, /#5 alice: \(deleted\)/);
  } finally {
    await rm(home, { recursive: true, force: true });
    await stop();
  }
});
