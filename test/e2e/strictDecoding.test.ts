import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status, type Client, type Metadata } from '@grpc/grpc-js';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { ClientFrame, ServerFrame } from '../../src/gen/chat/v1/chat.js';
import { type FieldInfo, protoSchema } from '../../src/transport/protoSchema.js';
import { C, registerAndLogin, type Device } from '../support/client.js';
import { grpcWebCall } from '../support/grpcWebCall.js';
import { testNode } from '../support/node.js';

let env: Awaited<ReturnType<typeof testNode>>;
let a: Device;
let b: Device;
let client: Client;
let web: string;

before(async () => {
  env = await testNode();
  const t = randomUUID().slice(0, 6);
  [a] = (await registerAndLogin(env.api, `a_${t}`)) as [Device];
  [b] = (await registerAndLogin(env.api, `b_${t}`)) as [Device];
  client = env.api.chat as unknown as Client;
  web = `http://127.0.0.1:${env.node.webPort}`;
});
after(async () => {
  await env.stop();
});

const BAD = Uint8Array.from([0xff, 0x41]);

/** Every path to a string field of a message type, e.g. [cursors, channel_id] (cycles cut at depth 4). */
function stringPaths(type: string, depth = 0): FieldInfo[][] {
  if (depth > 4) return [];
  return protoSchema()
    .fields(type)
    .flatMap((f) => (f.kind === 'string' ? [[f]] : f.kind === 'message' && f.message ? stringPaths(f.message, depth + 1).map((p) => [f, ...p]) : []));
}

/** A message holding only `ff 41` at the end of the path, encoded with the protobuf runtime's writer. */
function encodeAt(path: FieldInfo[]): Uint8Array {
  return path.reduceRight<Uint8Array>((inner, f) => new BinaryWriter().tag(f.number, WireType.LengthDelimited).bytes(inner).finish(), BAD);
}

const label = (path: FieldInfo[]) => path.map((f) => (f.repeated ? `${f.name}[0]` : f.name)).join('.');

interface Case {
  method: string;
  kind: 'unary' | 'server' | 'bidi';
  field: string;
  bytes: Uint8Array;
}

/** The cases come from the service descriptors, so a new method or field is covered without editing this file. */
function cases(): Case[] {
  return protoSchema()
    .methods()
    .flatMap((m) =>
      stringPaths(m.requestType).map((p) => ({
        method: m.path,
        kind: m.requestStream ? ('bidi' as const) : m.responseStream ? ('server' as const) : ('unary' as const),
        field: label(p),
        bytes: encodeAt(p),
      })),
    );
}

const id = (x: Buffer) => x;

function native(c: Case, md: Metadata): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    if (c.kind === 'unary') {
      client.makeUnaryRequest(c.method, id, id, Buffer.from(c.bytes), md, (e) => resolve(e ?? { code: status.OK, details: '' }));
      return;
    }
    const s = client.makeServerStreamRequest(c.method, id, id, Buffer.from(c.bytes), md);
    s.on('data', () => {});
    s.on('error', (e: { code: number; details: string }) => resolve(e));
    s.on('end', () => resolve({ code: status.OK, details: '' }));
  });
}

/** Connect: a valid resume first, then the bad frame; the answer is an error or send_error frame, and the stream lives on. */
async function onStream(c: Case): Promise<{ code: number; details: string }> {
  const s = client.makeBidiStreamRequest(c.method, id, id, a.md());
  const frames: ServerFrame[] = [];
  let ended = false;
  s.on('data', (b: Buffer) => frames.push(ServerFrame.decode(b)));
  s.on('error', () => (ended = true));
  s.on('end', () => (ended = true));
  s.write(Buffer.from(ClientFrame.encode({ frame: { $case: 'resume', resume: { cursors: [] } } }).finish()));
  s.write(Buffer.from(c.bytes));
  s.write(Buffer.from(ClientFrame.encode({ frame: { $case: 'heartbeat', heartbeat: {} } }).finish()));
  const deadline = Date.now() + 5000;
  let answer: { code: number; message: string } | undefined;
  while (!answer && Date.now() < deadline && !ended) {
    for (const f of frames)
      if (f.frame?.$case === 'error' || f.frame?.$case === 'sendError') answer ??= f.frame.$case === 'error' ? f.frame.error : f.frame.sendError;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(ended, false, `${c.method} ${c.field}: the stream must survive a bad frame`);
  s.cancel();
  return answer ? { code: answer.code, details: answer.message } : { code: -1, details: 'no error frame' };
}

test('invalid UTF-8 in any string field of any request is INVALID_ARGUMENT naming the field (native gRPC, grpc-web, Connect frames)', async () => {
  const all = cases();
  const methods = new Set(all.map((c) => c.method));
  // Every method whose request holds a string somewhere is covered; today that is all but the three empty requests.
  assert.ok(methods.size >= 18, `only ${methods.size} methods have string fields`);
  let checked = 0;
  for (const c of all) {
    const r = c.kind === 'bidi' ? await onStream(c) : await native(c, a.md());
    assert.equal(r.code, status.INVALID_ARGUMENT, `${c.method} ${c.field}: got ${status[r.code]} ${r.details}`);
    assert.ok(r.details.includes(`${c.field} is not valid UTF-8`), `${c.method}: "${r.details}" should name ${c.field}`);
    checked++;
    if (c.kind === 'bidi') continue;
    const w = await grpcWebCall(web, c.method, c.bytes, a.token);
    assert.equal(w.status, status.INVALID_ARGUMENT, `grpc-web ${c.method} ${c.field}: got ${w.status} ${w.message}`);
    assert.ok(w.message?.includes(`${c.field} is not valid UTF-8`), `grpc-web ${c.method}: "${w.message}"`);
    checked++;
  }
  console.log(`# ${checked} bad requests over ${methods.size} methods, ${all.length} string fields: all INVALID_ARGUMENT naming the field`);
  // Still serving.
  const ch = (await a.openDirect(b.userName)).channel!.channelId;
  assert.ok((await a.send(ch, 'alive')).message!.id > 0);
});

test('CreateGroup with a title of ff 41 is refused and creates nothing', async () => {
  const before = (await a.chat(C.listChannels, {})).channels.length;
  const bytes = Buffer.concat([
    new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(BAD).finish(),
    new BinaryWriter().tag(2, WireType.LengthDelimited).string(b.userName).finish(),
  ]);
  const r = await native({ method: C.createGroup.path, kind: 'unary', field: 'title', bytes }, a.md());
  assert.equal(r.code, status.INVALID_ARGUMENT, `got ${status[r.code]} ${r.details}`);
  assert.match(r.details, /title is not valid UTF-8/);
  assert.equal((await a.chat(C.listChannels, {})).channels.length, before, 'no group was created');
});

test('a first frame (resume) with invalid UTF-8 ends Connect with INVALID_ARGUMENT naming the field', async () => {
  const s = client.makeBidiStreamRequest(C.connect.path, id, id, a.md());
  s.on('data', () => {});
  const e = await new Promise<{ code: number; details: string }>((resolve) => {
    s.on('error', resolve);
    s.on('end', () => resolve({ code: status.OK, details: '' }));
    s.write(
      Buffer.from(
        encodeAt(
          protoSchema()
            .fields('chat.v1.ClientFrame')
            .filter((f) => f.name === 'resume')
            .concat(stringPaths('chat.v1.Resume')[0]!),
        ),
      ),
    );
  });
  assert.equal(e.code, status.INVALID_ARGUMENT, `got ${status[e.code]} ${e.details}`);
  assert.match(e.details, /resume\.cursors\[0\]\.channel_id is not valid UTF-8/);
});
