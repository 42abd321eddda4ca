import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { C, registerAndLogin, type Device } from '../support/client.js';
import { testNode } from '../support/node.js';

/**
 * Issue 11: one user adds another to 1,000 groups (the invitation rate lifted,
 * so only the pending cap and the quota rule stand between them). Before
 * consent every add was a membership and filled the victim's channel quota
 * (CHAT_MAX_CHANNELS_PER_USER, 1000): the victim could then not open a direct
 * channel with a friend. Now each add is an invitation: the victim keeps at
 * most CHAT_MAX_PENDING_INVITES (100) of them and their quota is untouched.
 * Uses ChatService calls only, so the same file runs against the code before consent.
 */
let env: Awaited<ReturnType<typeof testNode>>;
before(async () => {
  env = await testNode({ CHAT_CONSENT: 'invite', CHAT_INVITE_RATE_PER_MIN: '1000000', CHAT_INVITE_BURST: '1000000' });
});
after(async () => {
  await env.stop();
});

test('1,000 groups from one spammer leave the victim able to open a direct channel with a friend', async () => {
  const t = randomUUID().slice(0, 6);
  const [spammer] = (await registerAndLogin(env.api, `spam_${t}`)) as [Device];
  const [victim] = (await registerAndLogin(env.api, `victim_${t}`)) as [Device];
  const [friend] = (await registerAndLogin(env.api, `friend_${t}`)) as [Device];
  const t0 = Date.now();
  const codes = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < 1000) {
      next++;
      const code = await spammer.createGroup(`spam ${next}`, [victim.userName]).then(
        () => 'OK',
        (e: { code: number }) => status[e.code]!,
      );
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const spamMs = Date.now() - t0;
  const listed = (await victim.chat(C.listChannels, {})) as { channels: unknown[]; invitations?: unknown[] };
  console.log(
    `spam: ${JSON.stringify(Object.fromEntries(codes))} in ${spamMs} ms; victim has ${listed.channels.length} channels, ${listed.invitations?.length} invitations`,
  );
  assert.equal(listed.channels.length, 0, 'no group joined without consent');
  assert.equal(listed.invitations?.length, 100, 'pending invitations capped at CHAT_MAX_PENDING_INVITES');

  const opened = await victim.openDirect(friend.userName).then(
    (r) => r.channel!.channelId,
    (e: { code: number; details: string }) => `${status[e.code]}: ${e.details}`,
  );
  assert.match(opened, /^d_/, `the victim opens a direct channel with a friend: ${opened}`);
  await victim.send(opened, 'the spam did not stop me');
  // The friend accepts by opening the same channel, and reads the message.
  await friend.openDirect(victim.userName);
  const history = await friend.history(opened);
  assert.deepEqual(
    history.messages.map((m) => m.body),
    ['the spam did not stop me'],
  );
});
