import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status, type ServiceError } from '@grpc/grpc-js';
import { PresenceServiceService as P } from '../../src/gen/chat/v1/presence.js';
import { PresenceState } from '../../src/gen/chat/v1/common.js';
import { C, registerAndLogin, rpc, type Device, type DeviceStream } from '../support/client.js';
import { storeEnv, testNode, sleep } from '../support/node.js';

/**
 * Access that was lost stays lost: a member removed while its own sends are in
 * flight stops receiving the group at once, and presence is withdrawn when the
 * last shared channel goes. Runs on memory and, unchanged, on Cassandra + Redis.
 */
let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode();
});
after(async () => {
  await env.stop();
});

const users = async (n: number) => {
  const t = randomUUID().slice(0, 6);
  const out: Device[] = [];
  for (let i = 0; i < n; i++) out.push(...(await registerAndLogin(env.api, `u${i}_${t}`)));
  return out;
};

/** One trial: the member sends every 25 ms on Connect while the owner removes it, then posts 1 s and 4 s later. */
async function removalTrial() {
  const [owner, member] = (await users(2)) as [Device, Device];
  const { channel } = await owner.createGroup('race', [member.userName]);
  const channelId = channel!.channelId;
  const s = member.connect();
  await s.caughtUp();
  let sending = true;
  const sender = (async () => {
    for (let i = 0; sending; i++) {
      s.write({ $case: 'send', send: { channelId, clientMsgId: randomUUID(), body: `m${i}` } });
      await sleep(25);
    }
  })();
  await sleep(200);
  await owner.chat(C.removeMember, { channelId, member: member.userId });
  await sleep(300);
  sending = false;
  await sender;
  await sleep(700);
  const late1 = await owner.send(channelId, 'after removal +1s');
  await sleep(3000);
  const late2 = await owner.send(channelId, 'after removal +4s');
  await sleep(500);
  const leaked = s.messages(channelId).filter((m) => m.id >= late1.message!.id);
  s.close();
  return { leaked: leaked.length, lateIds: [late1.message!.id, late2.message!.id] };
}

test('a member removed while its sends are in flight receives nothing posted after the removal (10 trials)', async () => {
  const trials = await Promise.all(Array.from({ length: 10 }, () => removalTrial()));
  const leaked = trials.reduce((n, t) => n + t.leaked, 0);
  assert.equal(leaked, 0, `messages posted after the removal reached the removed member in ${trials.filter((t) => t.leaked).length} of 10 trials`);
});

const presenceStates = (w: DeviceStream, userId: string) =>
  w.frames
    .map((f) => (f.$case === 'presence' ? f.presence : (f as unknown as { presence?: { userId: string; state: PresenceState } }).presence))
    .filter((p): p is NonNullable<typeof p> => !!p && p.userId === userId)
    .map((p) => p.state);

test('presence is withdrawn when the last shared channel goes: Connect and WatchPresence say HIDDEN, GetPresence refuses', async () => {
  const [owner, member] = (await users(2)) as [Device, Device];
  const { channel } = await owner.createGroup('only shared channel', [member.userName]);
  const channelId = channel!.channelId;
  const ownerStream = owner.connect();
  await ownerStream.caughtUp();
  const watch = owner.watchPresence([member.userId]);
  await watch.until(() => presenceStates(watch, member.userId).length >= 1, 'initial presence');
  const memberStream = member.connect();
  await memberStream.caughtUp();
  await ownerStream.until(() => presenceStates(ownerStream, member.userId).includes(PresenceState.PRESENCE_STATE_ONLINE), 'member online on Connect');
  await watch.until(() => presenceStates(watch, member.userId).includes(PresenceState.PRESENCE_STATE_ONLINE), 'member online on WatchPresence');

  await member.chat(C.leaveChannel, { channelId });
  await ownerStream.until(() => presenceStates(ownerStream, member.userId).at(-1) === PresenceState.PRESENCE_STATE_HIDDEN, 'HIDDEN on Connect');
  await watch.until(() => presenceStates(watch, member.userId).at(-1) === PresenceState.PRESENCE_STATE_HIDDEN, 'HIDDEN on WatchPresence');
  const err = await rpc(owner.api.presence, P.getPresence, { userIds: [member.userId] }, owner.md()).catch((e: ServiceError) => e);
  assert.equal((err as ServiceError).code, status.PERMISSION_DENIED);

  // The member goes offline and comes back: nothing more about it reaches the owner.
  const seenConnect = presenceStates(ownerStream, member.userId).length;
  const seenWatch = presenceStates(watch, member.userId).length;
  memberStream.close();
  await sleep(1200); // past the test node's 600 ms presence timeout
  const again = member.connect();
  await again.caughtUp();
  await sleep(500);
  assert.equal(presenceStates(ownerStream, member.userId).length, seenConnect, 'no presence on Connect after withdrawal');
  assert.equal(presenceStates(watch, member.userId).length, seenWatch, 'no presence on WatchPresence after withdrawal');
  for (const s of [ownerStream, watch, again]) s.close();
});

test('a member removed through one node is refused at once on another node that had the channel cached (production stack)', async (t) => {
  if (!process.env.CHAT_TEST_STORE?.startsWith('scylla')) return t.skip('two nodes share state only on the production stack');
  const shared = storeEnv();
  const n1 = await testNode(shared);
  const n2 = await testNode(shared);
  try {
    const tag = randomUUID().slice(0, 6);
    const [owner] = (await registerAndLogin(n1.api, `own_${tag}`)) as [Device];
    const [member] = (await registerAndLogin(n2.api, `mem_${tag}`)) as [Device];
    const { channel } = await owner.createGroup('two nodes', [member.userName]);
    const channelId = channel!.channelId;
    await member.send(channelId, 'warms node 2 channel cache');
    await member.history(channelId);
    await owner.chat(C.removeMember, { channelId, member: member.userId });
    await sleep(50); // one broker hop, far below the cache's 2 s lifetime
    const send = await member.send(channelId, 'after removal').catch((e: ServiceError) => e);
    assert.equal((send as ServiceError).code, status.PERMISSION_DENIED, 'send on the other node refused');
    const hist = await member.history(channelId).catch((e: ServiceError) => e);
    assert.equal((hist as ServiceError).code, status.PERMISSION_DENIED, 'history on the other node refused');
  } finally {
    await n2.stop();
    await n1.stop();
  }
});
