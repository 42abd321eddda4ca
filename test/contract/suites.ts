import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Message } from '../../src/domain/model.js';
import type { ChannelStore } from '../../src/ports/ChannelStore.js';
import type { CursorStore } from '../../src/ports/CursorStore.js';
import type { Fanout } from '../../src/ports/Fanout.js';
import type { IdempotencyStore } from '../../src/ports/IdempotencyStore.js';
import type { MessageStore } from '../../src/ports/MessageStore.js';
import type { PresenceStore } from '../../src/ports/PresenceStore.js';
import type { Sequencer } from '../../src/ports/Sequencer.js';
import type { AccountStore } from '../../src/ports/AccountStore.js';
import type { ChatEvent } from '../../src/domain/events.js';

/**
 * One contract suite per port. Every adapter runs the same suite through a
 * factory (memory now; Redis and CQL adapters plug in the same way), so a
 * guarantee written in a port's doc comment is checked once for all backends.
 */
export interface Factories {
  name: string;
  messages?: () => Promise<MessageStore>;
  sequencer?: () => Promise<Sequencer>;
  idempotency?: () => Promise<IdempotencyStore>;
  cursors?: () => Promise<CursorStore>;
  channels?: () => Promise<ChannelStore>;
  accounts?: () => Promise<AccountStore>;
  presence?: () => Promise<PresenceStore>;
  fanout?: () => Promise<Fanout>;
}

const chan = () => 'g_' + randomUUID().replaceAll('-', '');
const user = () => 'u_' + randomUUID().replaceAll('-', '');
const msg = (channelId: string, id: number, body = `m${id}`): Message => ({
  channelId, id, senderUserId: 'u_1', senderDeviceId: 'd', clientMsgId: randomUUID(), body, sentAtMs: 1000 + id, kind: 'user',
});

export function contractSuites(f: Factories) {
  if (f.messages) {
    const make = f.messages;
    test(`${f.name} MessageStore: after/before/get/maxId page in id order`, async () => {
      const s = await make();
      const ch = chan();
      for (const id of [1, 2, 3, 5, 4, 6, 7, 8, 9, 10]) await s.append(msg(ch, id));
      assert.deepEqual((await s.after(ch, 0, 3)).map((m) => m.id), [1, 2, 3]);
      assert.deepEqual((await s.after(ch, 8, 10)).map((m) => m.id), [9, 10]);
      assert.deepEqual((await s.before(ch, 0, 3)).map((m) => m.id), [10, 9, 8]);
      assert.deepEqual((await s.before(ch, 4, 10)).map((m) => m.id), [3, 2, 1]);
      assert.equal((await s.get(ch, 5))!.body, 'm5');
      assert.equal(await s.get(ch, 11), undefined);
      assert.equal(await s.maxId(ch), 10);
      assert.equal(await s.maxId(chan()), 0);
      assert.deepEqual(await s.after(chan(), 0, 10), []);
    });
    test(`${f.name} MessageStore: appending the same message twice is idempotent; a different one with a taken id is refused`, async () => {
      const s = await make();
      const ch = chan();
      const m = msg(ch, 1);
      await s.append(m);
      await s.append({ ...m });
      assert.equal((await s.after(ch, 0, 10)).length, 1);
      await assert.rejects(() => s.append(msg(ch, 1, 'impostor')), (e: { kind: string }) => e.kind === 'aborted');
      assert.equal((await s.get(ch, 1))!.body, 'm1');
    });
  }
  if (f.sequencer) {
    const make = f.sequencer;
    test(`${f.name} Sequencer: ids are unique and increasing per channel under concurrency`, async () => {
      const s = await make();
      const a = chan();
      const b = chan();
      const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => s.next(i % 2 ? a : b)));
      const ofA = ids.filter((_, i) => i % 2);
      assert.equal(new Set(ofA).size, 100);
      assert.equal(Math.max(...ofA), 100);
      assert.equal(await s.current(a), 100);
      assert.equal(await s.current(chan()), 0);
    });
  }
  if (f.idempotency) {
    const make = f.idempotency;
    test(`${f.name} IdempotencyStore: one claim wins, the others wait for its outcome`, async () => {
      const s = await make();
      const key = randomUUID();
      assert.deepEqual(await s.claim(key, 60_000), { status: 'claimed' });
      const waiting = s.claim(key, 60_000);
      await s.complete(key, 'g_x', 7, 60_000);
      assert.deepEqual(await waiting, { status: 'done', channelId: 'g_x', messageId: 7 });
      const released = randomUUID();
      await s.claim(released, 60_000);
      const next = s.claim(released, 60_000);
      await s.release(released);
      assert.deepEqual(await next, { status: 'claimed' });
    });
  }
  if (f.cursors) {
    const make = f.cursors;
    test(`${f.name} CursorStore: delivered cursors and read pointers only move forward`, async () => {
      const s = await make();
      const u = user();
      const ch = chan();
      await s.ackDelivered(u, 'd1', [{ channelId: ch, lastMessageId: 5 }]);
      await s.ackDelivered(u, 'd1', [{ channelId: ch, lastMessageId: 3 }]);
      await s.ackDelivered(u, 'd2', [{ channelId: ch, lastMessageId: 1 }]);
      assert.equal((await s.delivered(u, 'd1')).get(ch), 5);
      assert.equal((await s.delivered(u, 'd2')).get(ch), 1);
      assert.equal(await s.markRead(u, ch, 9), 9);
      assert.equal(await s.markRead(u, ch, 4), 9);
      assert.deepEqual([...(await s.readPointers(u, [ch, 'g_none']))], [[ch, 9], ['g_none', 0]]);
    });
  }
  if (f.channels) {
    const make = f.channels;
    test(`${f.name} ChannelStore: membership, cap enforced atomically, direct channels created once`, async () => {
      const s = await make();
      const id = chan();
      const [o, m1, m2, m3] = [user(), user(), user(), user()];
      await s.create({ id, kind: 'group', title: 't', createdAtMs: 1, members: [{ userId: o, role: 'owner' }] });
      const results = await Promise.allSettled([
        s.addMembers(id, [{ userId: m1, role: 'member' }, { userId: m2, role: 'member' }], 3),
        s.addMembers(id, [{ userId: m3, role: 'member' }, { userId: m2, role: 'member' }], 3),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one add fits');
      assert.equal((await s.get(id))!.members.length, 3);
      assert.ok((await s.channelsOf(o)).includes(id));
      assert.equal(await s.removeMember(id, o), true);
      assert.equal(await s.removeMember(id, o), false);
      assert.ok(!(await s.channelsOf(o)).includes(id));
      const d = `d_${user()}_${user()}`;
      const first = await s.createDirect({ id: d, kind: 'direct', title: '', createdAtMs: 1, members: [{ userId: m1, role: 'member' }] });
      const second = await s.createDirect({ id: d, kind: 'direct', title: 'other', createdAtMs: 2, members: [] });
      assert.deepEqual(second, first);
    });
  }
  if (f.accounts) {
    const make = f.accounts;
    test(`${f.name} AccountStore: user names are unique (case-insensitive), devices idempotent`, async () => {
      const s = await make();
      const name = 'n' + randomUUID().slice(0, 8);
      const a = { userId: user(), userName: name, passwordHash: 'h', createdAtMs: 1 };
      await s.create(a);
      await assert.rejects(() => s.create({ ...a, userId: user(), userName: name.toUpperCase() }), (e: { kind: string }) => e.kind === 'already_exists');
      assert.equal((await s.byName(name))!.userId, a.userId);
      assert.equal((await s.byId(a.userId))!.userName, name);
      assert.deepEqual(await s.addDevice({ userId: a.userId, deviceId: 'p', createdAtMs: 1 }), { created: true });
      assert.deepEqual(await s.addDevice({ userId: a.userId, deviceId: 'p', createdAtMs: 2 }), { created: false });
      assert.equal((await s.listDevices(a.userId)).length, 1);
    });
  }
  if (f.presence) {
    const make = f.presence;
    test(`${f.name} PresenceStore: one online transition, offline once the last device expires`, async () => {
      const s = await make();
      const u = user();
      assert.deepEqual(await s.touch(u, 'a', 100, 1000), { cameOnline: true });
      assert.deepEqual(await s.touch(u, 'b', 200, 1500), { cameOnline: false });
      assert.deepEqual(await s.sweep(1200), []);
      const off = await s.sweep(1600);
      assert.deepEqual(off, [{ userId: u, online: false, lastActiveAtMs: 200 }]);
      assert.deepEqual(await s.sweep(1700), [], 'reported once');
      assert.deepEqual(await s.get([u]), [{ userId: u, online: false, lastActiveAtMs: 200 }]);
      assert.deepEqual(await s.touch(u, 'a', 2000, 3000), { cameOnline: true });
    });
  }
  if (f.fanout) {
    const make = f.fanout;
    test(`${f.name} Fanout: subscribers get a topic's events in publish order; unsubscribe stops them`, async () => {
      const s = await make();
      const got: number[] = [];
      const topic = `ch:${chan()}`;
      const base = s.subscriptionCount();
      const off = s.subscribe(topic, (e: ChatEvent) => e.type === 'message' && got.push(e.message.id));
      await s.subscribed();
      for (let i = 1; i <= 50; i++) await s.publish(topic, { type: 'message', message: msg('g', i) });
      const deadline = Date.now() + 2000;
      while (got.length < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i + 1));
      off();
      off();
      assert.equal(s.subscriptionCount(), base);
      await s.publish(topic, { type: 'message', message: msg('g', 51) });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(got.length, 50);
    });
  }
}
