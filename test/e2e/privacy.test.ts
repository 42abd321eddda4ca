import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/core/logger.js';
import { registerAndLogin, type Device } from '../support/client.js';
import { sleep, testNode } from '../support/node.js';

/**
 * Regression (issue 10, item 7): the default push notifier logged message
 * previews at info level ("preview":"direct secret 1"). Logs must carry ids
 * and sizes, never message content, at info or above.
 */
let lines = '';
const sink = new Writable({
  write(chunk, _enc, done) {
    lines += chunk.toString();
    done();
  },
});
const log = pino({ level: 'info' }, sink) as unknown as Logger;
let env: Awaited<ReturnType<typeof testNode>> | undefined;
after(async () => {
  await env?.stop();
});

test('delivering to an offline user logs the push with ids and sizes, never the body', async () => {
  env = await testNode({}, log);
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `pa_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `pb_${t}`)) as [Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  const secret = `direct secret ${randomUUID()}`;
  const sent = await a.send(ch, secret); // b has no stream open: offline
  const deadline = Date.now() + 5000;
  while (!lines.includes('push notification') && Date.now() < deadline) await sleep(20);
  const pushes = lines
    .split('\n')
    .filter((l) => l.includes('push notification'))
    .map((l) => JSON.parse(l) as { level: number; push: Record<string, unknown> });
  assert.ok(pushes.length >= 1, `a push was logged:\n${lines}`);
  assert.ok(!lines.includes(secret) && !lines.includes('direct secret'), `no message content in the log:\n${lines}`);
  assert.ok(!lines.includes('preview"'), 'no preview field at all');
  assert.equal(pushes[0]!.push['messageId'], sent.message!.id);
  assert.equal(pushes[0]!.push['userId'], b.userId);
  assert.equal(pushes[0]!.push['previewBytes'], Buffer.byteLength(secret));
});
