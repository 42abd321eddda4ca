import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { C, registerAndLogin, type Device, type DeviceStream } from '../support/client.js';
import { testNode, sleep } from '../support/node.js';
import { ConfigSchema } from '../../src/app/config.js';

// The default limits (typing and mark rates, outbound queue): the flood meets the shipped configuration.
const DEFAULTS = ConfigSchema.parse({});
let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode({
    CHAT_TYPING_RATE_PER_SEC: String(DEFAULTS.CHAT_TYPING_RATE_PER_SEC),
    CHAT_TYPING_BURST: String(DEFAULTS.CHAT_TYPING_BURST),
    CHAT_MARK_RATE_PER_SEC: String(DEFAULTS.CHAT_MARK_RATE_PER_SEC),
    CHAT_MARK_BURST: String(DEFAULTS.CHAT_MARK_BURST),
    CHAT_OUTBOUND_QUEUE_LIMIT: String(DEFAULTS.CHAT_OUTBOUND_QUEUE_LIMIT),
  });
});
after(async () => {
  await env.stop();
});

const FLOOD = 50_000;

/** A device that reads normally: it renders what it gets, at most about 2,000 frames a second (a phone, not a loop). */
function readNormally(s: DeviceStream) {
  let n = 0;
  s.stream.on('data', () => {
    if (++n % 20 !== 0) return;
    s.stream.pause();
    setTimeout(() => s.stream.resume(), 10);
  });
  return s;
}

/** Writes `n` typing/read frames on `s` in chunks, yielding to the event loop between chunks; resolves with the time it took. */
async function flood(s: DeviceStream, channelId: string, lastRead: number, n: number): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) s.write({ $case: 'typing', typing: { channelId, typing: i % 4 === 0 } });
    else s.write({ $case: 'read', read: { channelId, lastReadMessageId: lastRead } });
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  return Date.now() - started;
}

/** Sends a message as `c` and resolves when every reader has it, within 2 s. */
async function deliveredIn(c: Device, ch: string, readers: DeviceStream[]) {
  const sentAt = Date.now();
  const { id } = (await c.send(ch, `after the flood ${sentAt}`)).message!;
  await Promise.all(readers.map((s) => s.until(() => s.messages(ch).some((x) => x.id === id), 'the message after the flood', 2000)));
  const ms = Date.now() - sentAt;
  assert.ok(ms < 2000, `the message arrived in ${ms} ms`);
  return { id, ms };
}

test('a typing/read flood from one member never pushes the other members out; a later message arrives within 2 s', async () => {
  const t = randomUUID().slice(0, 6);
  const [a] = (await registerAndLogin(env.api, `fl_${t}`)) as [Device];
  const readers = (await Promise.all(['r1', 'r2'].map(async (n) => (await registerAndLogin(env.api, `${n}_${t}`))[0]!))) as Device[];
  const [c] = (await registerAndLogin(env.api, `c_${t}`)) as [Device];
  const ch = (await a.createGroup('flood', [...readers.map((r) => r.userName), c.userName])).channel!.channelId;
  const first = (await a.send(ch, 'before the flood')).message!.id;

  const streams = readers.map((r) => readNormally(r.connect()));
  await Promise.all(streams.map((s) => s.caughtUp()));
  const flooder = a.connect();
  await flooder.caughtUp();
  const counts = env.node.metrics.counts;
  const before = { ...counts };

  // 50,000 frames on Connect and, meanwhile, 1,000 parallel SetTyping calls.
  const unary = Promise.allSettled(Array.from({ length: 1000 }, (_, i) => a.chat(C.setTyping, { channelId: ch, typing: i % 2 === 0 })));
  const ms = await flood(flooder, ch, first, FLOOD);
  const results = await unary;
  const accepted = results.filter((r) => r.status === 'fulfilled').length;
  const refused = results.filter((r) => r.status === 'rejected' && (r.reason as { code: number }).code === status.RESOURCE_EXHAUSTED).length;
  assert.ok(ms < 5000, `the flood was written in ${ms} ms`);
  assert.ok(accepted < 1000, `not all 1,000 parallel SetTyping calls are accepted (accepted ${accepted})`);
  assert.equal(accepted + refused, 1000, 'the others are refused with RESOURCE_EXHAUSTED');
  // A message sent right after the flood, while the node is still working through it.
  const during = await deliveredIn(c, ch, streams);
  // A send on the flooder's stream is answered after every frame before it was handled.
  const marker = randomUUID();
  flooder.write({ $case: 'send', send: { channelId: ch, clientMsgId: marker, body: 'end of flood' } });
  const handledFrom = Date.now();
  await flooder.until(() => flooder.of('sendAck').some((f) => f.sendAck.clientMsgId === marker), 'the node to work through the flood', 60_000);
  const handledMs = Date.now() - handledFrom;
  await sleep(500);

  for (const s of streams) assert.equal(s.error, undefined, `a reader was cut: ${s.error?.code} ${s.error?.details}`);
  const after = await deliveredIn(c, ch, streams);
  for (const s of streams) {
    assert.equal(s.error, undefined, 'every reader stream is still open');
    assert.deepEqual(
      s.messages(ch).map((x) => x.id),
      [first, during.id, during.id + 1, after.id],
      'messages are never dropped',
    );
  }
  const ephemeral = streams.map((s) => s.of('typing').length + s.of('receipt').length);
  for (const n of ephemeral) assert.ok(n < 1000, `typing and receipts are rate-limited and coalesced: ${n} ephemeral frames reached a reader`);
  console.log(
    `ephemeral flood: ${FLOOD} frames in ${ms} ms; SetTyping accepted ${accepted}/1000; ephemeral frames per reader ${ephemeral.join(', ')};` +
      ` dropped by rate ${counts.ephemeralLimited - before.ephemeralLimited}, by queue ${counts.ephemeralDropped - before.ephemeralDropped},` +
      ` coalesced ${counts.ephemeralCoalesced - before.ephemeralCoalesced}; flood handled ${handledMs} ms after it was written; message right after the flood in ${during.ms} ms, after it was handled in ${after.ms} ms`,
  );
  assert.ok(counts.ephemeralLimited - before.ephemeralLimited >= refused, 'every refused SetTyping is counted in the node metrics');
  assert.equal(flooder.error, undefined, "the flooder's own stream is not cut either (its excess is dropped)");
  for (const s of [...streams, flooder]) s.close();
});
