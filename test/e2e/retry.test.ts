import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { C, registerAndLogin, type Device } from '../support/client.js';
import { testNode, sleep } from '../support/node.js';

let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode();
});
after(async () => {
  await env.stop();
});

test('a client that drops its connection before and after the ack and retries with the same client_msg_id ends with exactly one copy of each message', {
  timeout: 120_000,
}, async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  const [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  const bs = b.connect();
  await bs.caughtUp();
  let seed = 42;
  const r = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const N = 150;
  const drops = { beforeAck: 0, afterAck: 0, streamCut: 0 };
  for (let i = 0; i < N; i++) {
    const clientMsgId = randomUUID();
    const body = `msg ${i}`;
    for (let attempt = 0; ; attempt++) {
      const mode = attempt >= 4 ? 1 : r();
      if (mode < 0.25) {
        // The connection drops right after the request left: the server may or may not have it.
        const call = a.api.chat.sendMessage({ channelId: ch, clientMsgId, body }, a.md(), () => {});
        await sleep(Math.floor(r() * 3));
        call.cancel();
        drops.beforeAck++;
        continue;
      }
      if (mode < 0.4) {
        // Same on the bidi stream: the send frame is written, then the stream is cut.
        const s = a.connect();
        await s.caughtUp();
        s.write({ $case: 'send', send: { channelId: ch, clientMsgId, body } });
        if (r() < 0.5) await sleep(1);
        s.close();
        drops.streamCut++;
        continue;
      }
      const res = await a.chat(C.sendMessage, { channelId: ch, clientMsgId, body });
      assert.equal(res.message!.clientMsgId, clientMsgId);
      if (mode < 0.55 && attempt < 3) {
        drops.afterAck++; // the ack was lost on the way back: the client retries anyway
        continue;
      }
      break;
    }
  }
  assert.ok(drops.beforeAck > 10 && drops.afterAck > 10 && drops.streamCut > 10, `every kind of drop happened: ${JSON.stringify(drops)}`);
  // History: exactly N messages, one per client_msg_id, in send order.
  const all = (await a.allHistory(ch)).reverse();
  assert.equal(all.length, N, 'exactly one stored copy per message');
  assert.deepEqual(
    all.map((m) => m.body).reverse(),
    Array.from({ length: N }, (_, i) => `msg ${i}`),
  );
  await bs.until(() => bs.messages(ch).length >= N, 'live copies');
  await sleep(200);
  assert.equal(bs.messages(ch).length, N, 'the receiver got each once');
  bs.close();
});
