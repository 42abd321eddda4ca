import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Metadata, status, type Client } from '@grpc/grpc-js';
import { ClientFrame, ServerFrame } from '../../src/gen/chat/v1/chat.js';
import { ChatServiceService } from '../../src/gen/chat/v1/chat.js';
import { AccountServiceService } from '../../src/gen/chat/v1/account.js';
import { PresenceServiceService } from '../../src/gen/chat/v1/presence.js';
import { registerAndLogin, type Device } from '../support/client.js';
import { testNode } from '../support/node.js';
import { rng } from '../support/rng.js';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode();
});
after(async () => {
  await env.stop();
});

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const FRAMES = 10_000;

/**
 * Hostile frames, each of which must be refused with exactly one reply
 * (send_error for sends, error for the rest): random bytes, invalid UTF-8,
 * wrong wire types, huge and empty values, malformed ids, other users'
 * channels, ids past 2^53, a second resume.
 */
function hostileFrame(r: () => number, foreign: string[]): { bytes: Buffer; isSend: boolean } {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const randBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
  const enc = (f: ClientFrame) => Buffer.from(ClientFrame.encode(f).finish());
  const badChannel = () =>
    pick(['', 'x', 'g_' + 'z'.repeat(32), 'd_u_1_u_2', '../../etc/passwd', 'g_' + '0'.repeat(31), '\u0000'.repeat(10), 'g_' + 'a'.repeat(500)]);
  // Frames no generated encoder writes (invalid UTF-8, ids past 2^53, wrong wire types) are built with the protobuf runtime's own writer.
  const raw = (write: (w: BinaryWriter) => BinaryWriter) => Buffer.from(write(new BinaryWriter()).finish());
  const LEN = WireType.LengthDelimited;
  switch (Math.floor(r() * 10)) {
    case 0: // random bytes
      return { bytes: randBytes(1 + Math.floor(r() * 64)), isSend: false };
    case 1: // send to a foreign channel (a real channel of other users)
      return { bytes: enc({ frame: { $case: 'send', send: { channelId: pick(foreign), clientMsgId: randomUUID(), body: 'let me in' } } }), isSend: true };
    case 2: // send with a malformed channel id or client_msg_id
      return {
        bytes: enc({ frame: { $case: 'send', send: { channelId: badChannel(), clientMsgId: pick(['', 'nope', randomUUID() + 'x']), body: 'x' } } }),
        isSend: true,
      };
    case 3: // invalid UTF-8 in the body
      return {
        bytes: raw((w) =>
          w
            .tag(1, LEN)
            .fork()
            .tag(1, LEN)
            .string(pick(foreign))
            .tag(2, LEN)
            .string(randomUUID())
            .tag(3, LEN)
            .bytes(Uint8Array.from([0xc3, 0x28, 0xff]))
            .join(),
        ),
        isSend: true,
      };
    case 4: // empty or oversized body to a foreign channel
      return {
        bytes: enc({ frame: { $case: 'send', send: { channelId: pick(foreign), clientMsgId: randomUUID(), body: pick(['', ' ', 'x'.repeat(9000)]) } } }),
        isSend: true,
      };
    case 5: // read markers on foreign or malformed channels, ids past 2^53 as raw varints
      return r() < 0.5
        ? {
            bytes: enc({ frame: { $case: 'read', read: { channelId: pick([...foreign, badChannel()]), lastReadMessageId: Math.floor(r() * 1e9) } } }),
            isSend: false,
          }
        : {
            bytes: raw((w) =>
              w
                .tag(3, LEN)
                .fork()
                .tag(1, LEN)
                .string(pick(foreign))
                .tag(2, WireType.Varint)
                .uint64(2n ** 60n)
                .join(),
            ),
            isSend: false,
          };
    case 6: // typing into foreign channels
      return { bytes: enc({ frame: { $case: 'typing', typing: { channelId: pick([...foreign, badChannel()]), typing: r() < 0.5 } } }), isSend: false };
    case 7: // acknowledging other users' channels
      return {
        bytes: enc({ frame: { $case: 'ack', ack: { cursors: [{ channelId: pick([...foreign, badChannel()]), lastMessageId: Math.floor(r() * 100) }] } } }),
        isSend: false,
      };
    case 8: // a second resume, or an empty frame
      return { bytes: r() < 0.5 ? enc({ frame: { $case: 'resume', resume: { cursors: [] } } }) : Buffer.alloc(0), isSend: false };
    default: // wrong wire type for a known field (a varint where a message belongs), unknown fields only
      return {
        bytes: r() < 0.5 ? raw((w) => w.tag(1, WireType.Varint).uint32(150)) : raw((w) => w.tag(2047, WireType.Varint).uint32(1)),
        isSend: false,
      };
  }
}

test(`fuzz: ${FRAMES} hostile Connect frames each get a status; the node stays up, memory bounded, other streams unaffected`, {
  timeout: 120_000,
}, async () => {
  const t = randomUUID().slice(0, 6);
  const [attacker] = (await registerAndLogin(env.api, `x_${t}`)) as [Device];
  const [v1] = (await registerAndLogin(env.api, `v1_${t}`)) as [Device];
  const [v2] = (await registerAndLogin(env.api, `v2_${t}`)) as [Device];
  const victimCh = (await v1.openDirect(v2.userName)).channel!.channelId;
  const group = (await v1.createGroup('private', [v2.userName])).channel!.channelId;
  const foreign = [victimCh, group];
  const vs = v2.connect();
  await vs.caughtUp();
  const rssBefore = process.memoryUsage().rss;

  const md = new Metadata();
  md.set('authorization', `Bearer ${attacker.token}`);
  const raw = (attacker.api.chat as unknown as Client).makeBidiStreamRequest(
    ChatServiceService.connect.path,
    (b: Buffer) => b,
    (b: Buffer) => ServerFrame.decode(b),
    md,
  );
  const replies: ServerFrame[] = [];
  raw.on('data', (f: ServerFrame) => replies.push(f));
  let streamError: { code: number; details: string } | undefined;
  raw.on('error', (e: { code: number; details: string }) => (streamError = e));
  raw.write(Buffer.from(ClientFrame.encode({ frame: { $case: 'resume', resume: { cursors: [] } } }).finish()));

  const r = rng(SEED);
  let sends = 0;
  const victimSends: Promise<unknown>[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const { bytes, isSend } = hostileFrame(r, foreign);
    if (isSend) sends++;
    if (!raw.write(bytes)) await new Promise((res) => raw.once('drain', res));
    if (i % 500 === 0) victimSends.push(v1.send(victimCh, `victim ${i / 500}`));
  }
  await Promise.all(victimSends);
  const deadline = Date.now() + 60_000;
  const answered = () => replies.filter((f) => f.frame?.$case === 'sendError' || f.frame?.$case === 'error').length;
  while (answered() < FRAMES && !streamError && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  assert.equal(streamError, undefined, `the attacker's stream survives its own garbage: ${JSON.stringify(streamError)}`);
  assert.equal(answered(), FRAMES, 'one refusal per hostile frame');
  assert.equal(replies.filter((f) => f.frame?.$case === 'sendError').length, sends, 'every send got a send_error');
  assert.equal(replies.filter((f) => f.frame?.$case === 'sendAck' || f.frame?.$case === 'message').length, 0, 'nothing was accepted or leaked');
  const codes = new Set(replies.map((f) => (f.frame?.$case === 'sendError' ? f.frame.sendError.code : f.frame?.$case === 'error' ? f.frame.error.code : -1)));
  assert.ok(!codes.has(status.INTERNAL) && !codes.has(status.UNKNOWN), `no INTERNAL/UNKNOWN among ${[...codes].join(',')}`);
  raw.end();

  // Unary garbage too: random bytes to every unary method.
  const methods = [...Object.values(ChatServiceService), ...Object.values(AccountServiceService), ...Object.values(PresenceServiceService)].filter(
    (m) => !m.requestStream && !m.responseStream,
  );
  let internal = 0;
  for (let i = 0; i < 1000; i++) {
    const m = methods[i % methods.length]!;
    const len = Math.floor(r() * 40);
    const bytes = Buffer.from(Array.from({ length: len }, () => Math.floor(r() * 256)));
    const code = await new Promise<number>((res) =>
      (env.api.chat as unknown as Client).makeUnaryRequest(
        m.path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        md,
        (e) => res(e ? e.code : 0),
      ),
    );
    if (code === status.INTERNAL || code === status.UNKNOWN) internal++;
  }
  assert.equal(internal, 0, 'no unary garbage ends in INTERNAL/UNKNOWN');

  // The victims' conversation went on, complete and in order.
  await vs.until(() => vs.messages(victimCh).length === victimSends.length, 'victim messages');
  // (The victim's sends run concurrently, so their order is the server's: check ids, then the set.)
  const got = vs.messages(victimCh);
  assert.ok(
    got.every((m, i) => i === 0 || m.id > got[i - 1]!.id),
    'in id order',
  );
  assert.deepEqual(got.map((m) => m.body).sort(), victimSends.map((_, i) => `victim ${i}`).sort());
  assert.ok(
    vs.messages().every((m) => m.senderUserId === v1.userId),
    'no message from the attacker reached the victims',
  );
  const grown = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grown < 200, `memory stays bounded (grew ${grown.toFixed(0)} MiB)`);
  vs.close();
});
