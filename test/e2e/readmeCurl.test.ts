import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVICE_NAMES } from '../../src/transport/server.js';
import { testNode } from '../support/node.js';

const ROOT = join(fileURLToPath(import.meta.url), '../../../..');

/** The README's `buf curl` lines, as written there (the sh block after `<!-- buf-curl-examples -->`). */
function readmeCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- buf-curl-examples -->\s*```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has the buf-curl-examples block');
  return m[1]!.split('\n').filter((l) => l.startsWith('npx buf curl'));
}

let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode();
});
after(async () => {
  await env.stop();
});

/** One README line run by the shell, aimed at the test node instead of make run's 127.0.0.1:50051. */
function run(line: string): Promise<{ code: number; out: string }> {
  const cmd = line.replaceAll('127.0.0.1:50051', env.node.address);
  return new Promise((resolve) => {
    execFile('bash', ['-c', cmd], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

test("the README's buf curl examples work against a node: health, the reflected service list, a unary call", async () => {
  const [health, list, unary, ...rest] = readmeCommands();
  assert.equal(rest.length, 0, 'three examples');

  const h = await run(health!);
  assert.equal(h.code, 0, h.out);
  assert.match(h.out, /"status": "SERVING"/);

  const l = await run(list!);
  assert.equal(l.code, 0, l.out);
  const listed = l.out.trim().split('\n');
  for (const s of [...SERVICE_NAMES, 'grpc.health.v1.Health']) assert.ok(listed.includes(s), `reflection lists ${s}: ${l.out}`);

  const u = await run(unary!);
  assert.equal(u.code, 0, u.out);
  assert.equal(JSON.parse(u.out).server.address, env.node.address);
});
