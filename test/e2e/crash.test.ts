import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { credentials, Metadata } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { ChatServiceClient } from '../../src/gen/chat/v1/chat.js';
import { Api, registerAndLogin } from '../support/client.js';
import { healthStatus } from '../support/health.js';
import { storeEnv, TEST_DEFAULTS } from '../support/node.js';
import { NodeProcess } from '../support/proc.js';

/**
 * Regression (issue 10, item 1): a Connect stream that sends only `resume`
 * and half-closes, with a token the node refuses or a resume it refuses, made
 * the session-start rejection escape as an unhandled rejection, and the node
 * process exited. The node runs as a child process here so that an exit is
 * seen as an exit, not as a failure of the test runner.
 */
let node: NodeProcess;
let metricsUrl = '';
before(async () => {
  node = new NodeProcess({ ...TEST_DEFAULTS, CHAT_HOST: '127.0.0.1', CHAT_LOG_LEVEL: 'info', ...storeEnv() });
  await node.ready();
  metricsUrl = `http://127.0.0.1:${/metrics: http:\/\/[^:]+:(\d+)/.exec(node.log)![1]}/metrics`;
});
after(() => node.kill('SIGKILL'));

/** Opens Connect with `md`, writes `resume` (with `cursors`), half-closes, and waits for the status. */
async function resumeAndHalfClose(md: Metadata, cursors: { channelId: string; lastMessageId: number }[] = []) {
  const client = new ChatServiceClient(node.address, credentials.createInsecure());
  try {
    const call = client.connect(md, { deadline: Date.now() + 10_000 });
    const code = await new Promise<number>((resolve) => {
      call.on('data', () => {});
      call.on('error', (e: { code: number }) => resolve(e.code));
      call.on('end', () => resolve(0));
      call.write({ frame: { $case: 'resume', resume: { cursors } } });
      call.end();
    });
    return code;
  } finally {
    client.close();
  }
}

async function assertAlive(what: string) {
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(node.exitCode, null, `the node exited after ${what}:\n${node.log.slice(-2000)}`);
  assert.equal(await healthStatus(node.address), 'SERVING', `health after ${what}`);
}

async function unhandledRejections(): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const m = /^chat_unhandled_rejections_total (\d+)/m.exec(text);
  assert.ok(m, 'chat_unhandled_rejections_total is exported');
  return Number(m[1]);
}

test('a Connect with a forged token that sends resume and half-closes ends UNAUTHENTICATED; the node keeps serving', async () => {
  const forged = await new SignJWT({ did: 'd1' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u_' + '0'.repeat(32))
    .setIssuer('grpc-chat')
    .setAudience('grpc-chat')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode('another secret, not the node one!!'));
  for (let i = 0; i < 5; i++) {
    const md = new Metadata();
    md.set('authorization', `Bearer ${forged}`);
    assert.equal(await resumeAndHalfClose(md), 16, 'UNAUTHENTICATED');
    await assertAlive(`forged token, try ${i + 1}`);
  }
  assert.equal(await unhandledRejections(), 0);
});

test('a Connect whose resume names a 500-character channel id, then half-closes, ends INVALID_ARGUMENT; the node keeps serving', async () => {
  const api = new Api(node.address);
  try {
    const [dev] = await registerAndLogin(api, `crash${Date.now() % 1e6}`);
    for (let i = 0; i < 5; i++) {
      const code = await resumeAndHalfClose(dev!.md(), [{ channelId: 'g_' + 'a'.repeat(498), lastMessageId: 1 }]);
      assert.equal(code, 3, 'INVALID_ARGUMENT');
      await assertAlive(`bad resume, try ${i + 1}`);
    }
  } finally {
    api.close();
  }
  assert.equal(await unhandledRejections(), 0);
});
