import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Message } from '../../src/domain/model.js';
import type { ChannelStore } from '../../src/ports/ChannelStore.js';
import type { CursorStore } from '../../src/ports/CursorStore.js';
import type { Fanout } from '../../src/ports/Fanout.js';
import type { ClaimResult, IdempotencyStore } from '../../src/ports/IdempotencyStore.js';
import type { MessageStore } from '../../src/ports/MessageStore.js';
import type { PresenceStore } from '../../src/ports/PresenceStore.js';
import type { Sequencer } from '../../src/ports/Sequencer.js';
import type { AccountStore } from '../../src/ports/AccountStore.js';
import type { ChatEvent } from '../../src/domain/events.js';
import type { RateLimiter } from '../../src/ports/RateLimiter.js';
import type { Membership } from '../../src/ports/Registry.js';
import { lifecycleSuites } from './lifecycleSuites.js';

/**
 * One contract suite per port. Every adapter runs the same suite through a
 * factory (memory now; Redis and CQL adapters plug in the same way), so a
 * guarantee written in a port's doc comment is checked once for all backends.
 */
export interface Factories {
  name: string;
  /**
   * `bucketSize` asks for a store whose storage partitions hold that many ids
   * (CQL buckets), so paging across partition boundaries is exercised with few
   * messages; adapters without partitions ignore it.
   */
  messages?: (opts?: { bucketSize?: number }) => Promise<MessageStore>;
  sequencer?: () => Promise<Sequencer>;
  /**
   * Sequencers whose counters can be lost or rolled back apart from the
   * history they number (a memory sequencer cannot: its counters die with the
   * memory history): checks that `next` never reissues an id across that.
   */
  sequencerFaults?: (durableMax: (channelId: string) => Promise<number>) => Promise<SequencerUnderFaults>;
  idempotency?: () => Promise<IdempotencyStore>;
  cursors?: () => Promise<CursorStore>;
  channels?: () => Promise<ChannelStore>;
  accounts?: () => Promise<AccountStore>;
  presence?: () => Promise<PresenceStore>;
  fanout?: () => Promise<Fanout>;
  rateLimiter?: () => Promise<RateLimiter>;
  /** Two members of one cluster: separate instances (as on two nodes) over one shared backend. */
  registry?: () => Promise<[Membership, Membership]>;
}

/** A sequencer over durable history (`durableMax`, owned by the test) plus the faults its backend can have. */
export interface SequencerUnderFaults {
  sequencer: Sequencer;
  /** Another instance over the same backend, as on another node. */
  peer: () => Promise<Sequencer>;
  /** How far past durable history a counter the backend lost or rolled back is moved. */
  margin: number;
  /** The backend forgets the channel's counter (FLUSHALL, a restart without persistence). */
  lose: (channelId: string) => Promise<void>;
  /**
   * Captures the channel's counter as it is now; the returned function brings
   * it back the way a restart from a snapshot taken now (or a failover to a
   * replica that stopped replicating now) would.
   */
  snapshot: (channelId: string) => Promise<() => Promise<void>>;
}

/** Registries converge asynchronously: poll until `ok`, failing after `ms`. */
export async function eventually(what: string, ok: () => Promise<boolean>, ms = 3000) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const chan = () => 'g_' + randomUUID().replaceAll('-', '');
const user = () => 'u_' + randomUUID().replaceAll('-', '');
const msg = (channelId: string, id: number, body = `m${id}`): Message => ({
  channelId,
  id,
  senderUserId: 'u_1',
  senderDeviceId: 'd',
  clientMsgId: randomUUID(),
  body,
  sentAtMs: 1000 + id,
  kind: 'user',
});

export function contractSuites(f: Factories) {
  lifecycleSuites(f);
  if (f.messages) {
    const make = f.messages;
    test(`${f.name} MessageStore: after/before/get/maxId page in id order`, async () => {
      const s = await make();
      const ch = chan();
      for (const id of [1, 2, 3, 5, 4, 6, 7, 8, 9, 10]) await s.append(msg(ch, id));
      assert.deepEqual(
        (await s.after(ch, 0, 3)).map((m) => m.id),
        [1, 2, 3],
      );
      assert.deepEqual(
        (await s.after(ch, 8, 10)).map((m) => m.id),
        [9, 10],
      );
      assert.deepEqual(
        (await s.before(ch, 0, 3)).map((m) => m.id),
        [10, 9, 8],
      );
      assert.deepEqual(
        (await s.before(ch, 4, 10)).map((m) => m.id),
        [3, 2, 1],
      );
      assert.equal((await s.get(ch, 5))!.body, 'm5');
      assert.equal(await s.get(ch, 11), undefined);
      assert.equal(await s.maxId(ch), 10);
      assert.equal(await s.maxId(chan()), 0);
      const five = (await s.get(ch, 5))!;
      assert.equal((await s.findByClientMsgId(five.senderUserId, five.clientMsgId))?.id, 5);
      assert.equal(await s.findByClientMsgId(five.senderUserId, randomUUID()), undefined);
      assert.deepEqual(await s.after(chan(), 0, 10), []);
    });
    test(`${f.name} MessageStore: appending the same message twice is idempotent; ids are not guarded, a later message under a stored id replaces it whole`, async () => {
      const s = await make();
      const ch = chan();
      const m = msg(ch, 1);
      await s.append(m);
      await s.append({ ...m });
      assert.deepEqual(await s.after(ch, 0, 10), [m], 'one copy');
      assert.deepEqual(await s.findByClientMsgId(m.senderUserId, m.clientMsgId), m);
      // Never done by the send path (the Sequencer does not reissue ids); this pins what a store does if it happens.
      const impostor = { ...msg(ch, 1, 'impostor'), senderUserId: 'u_2', senderDeviceId: 'e', sentAtMs: 5 };
      await s.append(impostor);
      assert.deepEqual(await s.get(ch, 1), impostor, 'the last write wins, every field of it');
      assert.deepEqual(await s.after(ch, 0, 10), [impostor], 'still one message under the id');
      assert.deepEqual(await s.before(ch, 0, 10), [impostor]);
      assert.equal(await s.maxId(ch), 1);
      assert.deepEqual(await s.findByClientMsgId(impostor.senderUserId, impostor.clientMsgId), impostor);
      assert.equal(await s.findByClientMsgId(m.senderUserId, m.clientMsgId), undefined, "a pointer never leads to another sender's message");
    });
    test(`${f.name} MessageStore: paging crosses partition boundaries and skips an empty id range`, async () => {
      const s = await make({ bucketSize: 10 });
      const ch = chan();
      // 1..19 and 30..35 (ids 20..29 never stored, as after a sequencer re-seed), appended out of order.
      const ids = [...Array.from({ length: 19 }, (_, i) => i + 1), 30, 31, 32, 33, 34, 35];
      for (const id of [...ids].sort((a, b) => ((a * 7) % 11) - ((b * 7) % 11) || a - b)) await s.append(msg(ch, id));
      const idsOf = (ms: Message[]) => ms.map((m) => m.id);
      assert.deepEqual(idsOf(await s.after(ch, 0, 100)), ids);
      assert.deepEqual(idsOf(await s.after(ch, 8, 5)), [9, 10, 11, 12, 13]);
      assert.deepEqual(idsOf(await s.after(ch, 17, 4)), [18, 19, 30, 31]);
      assert.deepEqual(idsOf(await s.after(ch, 25, 2)), [30, 31]);
      assert.deepEqual(idsOf(await s.after(ch, 35, 5)), []);
      assert.deepEqual(idsOf(await s.before(ch, 0, 3)), [35, 34, 33]);
      assert.deepEqual(idsOf(await s.before(ch, 31, 4)), [30, 19, 18, 17]);
      assert.deepEqual(idsOf(await s.before(ch, 11, 3)), [10, 9, 8]);
      assert.deepEqual(idsOf(await s.before(ch, 1, 3)), []);
      assert.deepEqual(idsOf(await s.before(ch, 100, 2)), [35, 34]);
      assert.equal(await s.maxId(ch), 35);
      assert.equal((await s.get(ch, 30))!.body, 'm30');
      assert.equal(await s.get(ch, 25), undefined);
      // Walking the whole history page by page, both ways, sees every id once.
      const forward: number[] = [];
      for (let page = await s.after(ch, 0, 7); page.length; page = await s.after(ch, forward[forward.length - 1]!, 7)) forward.push(...idsOf(page));
      assert.deepEqual(forward, ids);
      const backward: number[] = [];
      for (let page = await s.before(ch, 0, 6); page.length; page = await s.before(ch, backward[backward.length - 1]!, 6)) backward.push(...idsOf(page));
      assert.deepEqual(backward, [...ids].reverse());
      const m = (await s.get(ch, 12))!;
      assert.deepEqual(m, { ...msg(ch, 12), clientMsgId: m.clientMsgId }, 'every field round-trips');
    });
    test(`${f.name} MessageStore: racing appends of one id store exactly one message`, async () => {
      const s = await make();
      const ch = chan();
      const same = msg(ch, 1);
      const twins = await Promise.allSettled([s.append(same), s.append({ ...same }), s.append({ ...same })]);
      assert.deepEqual(
        twins.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'fulfilled'],
        'a resend is idempotent even when it races',
      );
      const rivals = [0, 1, 2, 3].map((i) => ({ ...msg(ch, 2, `rival${i}`), senderDeviceId: `d${i}`, sentAtMs: 2000 + i }));
      await Promise.all(rivals.map((r) => s.append(r)));
      const stored = await s.after(ch, 0, 10);
      assert.deepEqual(
        stored.map((m) => m.id),
        [1, 2],
        'one message per id',
      );
      assert.deepEqual(stored[0], same);
      const winner = rivals.find((r) => r.body === stored[1]!.body);
      assert.deepEqual(stored[1], winner, 'one rival, whole: never fields of several');
      const found = await Promise.all(rivals.map((r) => s.findByClientMsgId(r.senderUserId, r.clientMsgId)));
      assert.deepEqual(
        found,
        rivals.map((r) => (r === winner ? winner : undefined)),
        'only the stored rival is found by its client_msg_id',
      );
    });
  }
  if (f.sequencer) {
    const make = f.sequencer;
    test(`${f.name} Sequencer: ids are unique and increasing per channel under concurrency`, async () => {
      const s = await make();
      const a = chan();
      const b = chan();
      await Promise.all([s.open(a), s.open(b)]);
      const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => s.next(i % 2 ? a : b)));
      const ofA = ids.filter((_, i) => i % 2);
      assert.equal(new Set(ofA).size, 100);
      assert.equal(Math.max(...ofA), 100);
      assert.equal(await s.current(a), 100);
      assert.equal(await s.current(chan()), 0);
    });
    test(`${f.name} Sequencer: ids strictly increase per channel, interleaved across channels; current is the last one`, async () => {
      const s = await make();
      const chans = [chan(), chan(), chan()];
      for (const ch of chans) await s.open(ch);
      const last = new Map<string, number>();
      for (let i = 0; i < 60; i++) {
        const ch = chans[(i * 7) % 3]!;
        const id = await s.next(ch);
        assert.ok(id > (last.get(ch) ?? 0), `${id} after ${last.get(ch)}`);
        last.set(ch, id);
      }
      for (const ch of chans) assert.equal(await s.current(ch), last.get(ch));
    });
  }
  if (f.sequencerFaults) {
    const setup = async () => {
      const durable = new Map<string, number>();
      const faults = await f.sequencerFaults!(async (ch) => durable.get(ch) ?? 0);
      return { durable, ...faults };
    };
    const take = async (s: Sequencer, ch: string, n: number) => {
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(await s.next(ch));
      return ids;
    };
    test(`${f.name} Sequencer: after the counter is lost, ids continue past durable history + margin, with or without history; an opened channel starts at 1`, async () => {
      const { durable, sequencer: s, margin, lose } = await setup();
      const ch = chan();
      await s.open(ch);
      assert.deepEqual(await take(s, ch, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      durable.set(ch, 7); // 8..10 were taken but are not durable yet (sends in flight)
      await lose(ch);
      assert.ok((await s.current(ch)) >= 7, 'current never reads below durable history');
      const after = await take(s, ch, 3);
      assert.deepEqual(after, [7 + margin + 1, 7 + margin + 2, 7 + margin + 3], `continues at durable max + margin (${margin})`);
      assert.ok(after[0]! > 10, 'no id taken before the loss is issued again');
      assert.equal(await s.current(ch), 7 + margin + 3);
      const fresh = chan();
      await s.open(fresh);
      await s.open(fresh);
      assert.deepEqual(await take(s, fresh, 1), [1], 'an opened channel starts at 1; opening again changes nothing');
      await s.open(fresh);
      await lose(fresh); // id 1 taken, not durable yet (a first send in flight)
      assert.deepEqual(await take(s, fresh, 2), [margin + 1, margin + 2], 'a lost counter without history skips the margin too: id 1 may be in flight');
    });
    test(`${f.name} Sequencer: a counter that comes back lower (older snapshot, lagging replica) continues past durable history + margin on every node`, async () => {
      const { durable, sequencer: s, peer, margin, snapshot } = await setup();
      const other = await peer();
      const ch = chan();
      await s.open(ch);
      assert.deepEqual(await take(s, ch, 5), [1, 2, 3, 4, 5]);
      const restore = await snapshot(ch);
      assert.deepEqual(await take(other, ch, 5), [6, 7, 8, 9, 10]);
      durable.set(ch, 10);
      await restore(); // the counter says 5 again; ids 6..10 are stored
      assert.ok((await s.current(ch)) >= 10, 'current never reads below durable history');
      const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? s : other).next(ch)));
      assert.equal(new Set(ids).size, ids.length, 'unique across nodes validating at once');
      assert.equal(Math.min(...ids), 10 + margin + 1, `past durable max + margin (${margin}), never 6..10 again`);
      assert.equal(Math.max(...ids), 10 + margin + 40, 'dense from there');
      assert.equal(await other.current(ch), 10 + margin + 40);
      // Rolled back again later: every epoch change is checked, not only the first.
      const again = await snapshot(ch);
      await take(s, ch, 3);
      durable.set(ch, 10 + margin + 43);
      await again();
      assert.equal(await other.next(ch), 10 + margin + 43 + margin + 1);
    });
  }
  if (f.idempotency) {
    const make = f.idempotency;
    test(`${f.name} IdempotencyStore: one claim wins, the others wait for its outcome`, async () => {
      const s = await make();
      const key = randomUUID();
      // A store may add `unvouched` (it cannot prove it kept its data for the TTL); never `recovered` here.
      assert.deepEqual(only(await s.claim(key, 60_000)), { status: 'claimed' });
      const waiting = s.claim(key, 60_000);
      await s.complete(key, 'g_x', 7, 60_000);
      assert.deepEqual(await waiting, { status: 'done', channelId: 'g_x', messageId: 7 });
      const released = randomUUID();
      await s.claim(released, 60_000);
      const next = s.claim(released, 60_000);
      await s.release(released);
      assert.deepEqual(only(await next), { status: 'claimed' });
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
      assert.deepEqual(
        [...(await s.readPointers(u, [ch, 'g_none']))],
        [
          [ch, 9],
          ['g_none', 0],
        ],
      );
    });
    test(`${f.name} CursorStore: concurrent out-of-order acknowledgements keep the maximum`, async () => {
      const s = await make();
      const u = user();
      const [a, b] = [chan(), chan()];
      const values = Array.from({ length: 30 }, (_, i) => ((i * 17) % 30) + 1);
      await Promise.all(
        values.map((v) =>
          s.ackDelivered(u, 'd', [
            { channelId: a, lastMessageId: v },
            { channelId: b, lastMessageId: 31 - v },
          ]),
        ),
      );
      assert.deepEqual(
        new Map([...(await s.delivered(u, 'd'))].sort()),
        new Map(
          [
            [a, 30],
            [b, 30],
          ].sort() as [string, number][],
        ),
      );
      assert.deepEqual(await s.delivered(u, 'other-device'), new Map());
      const reads = await Promise.all(values.map((v) => s.markRead(u, a, v)));
      for (const [i, r] of reads.entries()) assert.ok(r >= values[i]!, 'markRead never reports less than it was given');
      assert.equal((await s.readPointers(u, [a])).get(a), 30);
      assert.equal(await s.markRead(u, a, 1), 30);
      assert.deepEqual(await s.readPointers(u, []), new Map());
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
        s.addMembers(
          id,
          [
            { userId: m1, role: 'member' },
            { userId: m2, role: 'member' },
          ],
          3,
        ),
        s.addMembers(
          id,
          [
            { userId: m3, role: 'member' },
            { userId: m2, role: 'member' },
          ],
          3,
        ),
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
    test(`${f.name} ChannelStore: many racing adds never pass the cap; index and roles follow membership`, async () => {
      const s = await make();
      const id = chan();
      const owner = user();
      await s.create({ id, kind: 'group', title: 'race', createdAtMs: 5, members: [{ userId: owner, role: 'owner' }] });
      const joiners = Array.from({ length: 8 }, () => user());
      const results = await Promise.allSettled(joiners.map((u) => s.addMembers(id, [{ userId: u, role: 'member' }], 5)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 4, 'exactly the 4 free seats are taken');
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { kind: string }).kind, 'failed_precondition');
      const ch = (await s.get(id))!;
      assert.equal(ch.members.length, 5);
      assert.deepEqual(ch.members[0], { userId: owner, role: 'owner' }, 'members keep join order');
      for (const u of joiners) {
        const member = ch.members.some((m) => m.userId === u);
        assert.equal((await s.channelsOf(u)).includes(id), member, 'channelsOf agrees with the member list');
      }
      const seated = ch.members[1]!.userId;
      const again = await s.addMembers(id, [{ userId: seated, role: 'admin' }], 5);
      assert.equal(again.members.length, 5, 're-adding a member is a no-op, even at the cap');
      await s.setRole(id, seated, 'admin');
      assert.equal((await s.get(id))!.members.find((m) => m.userId === seated)!.role, 'admin');
      assert.equal(await s.removeMember(id, seated), true);
      await s.setRole(id, seated, 'owner');
      assert.equal(
        (await s.get(id))!.members.some((m) => m.userId === seated),
        false,
        'setRole does not resurrect a removed member',
      );
      const after = await s.addMembers(id, [{ userId: seated, role: 'member' }], 5);
      assert.deepEqual(after.members[after.members.length - 1], { userId: seated, role: 'member' }, 'a returning member joins at the end');
      assert.deepEqual(after, await s.get(id));
      assert.ok((await s.channelsOf(seated)).includes(id));
      await assert.rejects(
        () => s.addMembers(chan(), [{ userId: owner, role: 'member' }], 5),
        (e: { kind: string }) => e.kind === 'not_found',
      );
      assert.equal(await s.get(chan()), undefined);
      assert.equal(await s.removeMember(chan(), owner), false);
      assert.deepEqual(await s.channelsOf(user()), []);
    });
    test(`${f.name} ChannelStore: racing createDirect calls agree on one channel`, async () => {
      const s = await make();
      const [a, b] = [user(), user()];
      const d = `d_${a}_${b}`;
      const members = [
        { userId: a, role: 'member' as const },
        { userId: b, role: 'member' as const },
      ];
      const got = await Promise.all([1, 2, 3].map((t) => s.createDirect({ id: d, kind: 'direct', title: '', createdAtMs: t, members })));
      assert.deepEqual(got[1], got[0]);
      assert.deepEqual(got[2], got[0]);
      assert.deepEqual(await s.get(d), got[0]);
      assert.ok((await s.channelsOf(a)).includes(d) && (await s.channelsOf(b)).includes(d));
    });
  }
  if (f.accounts) {
    const make = f.accounts;
    test(`${f.name} AccountStore: user names are unique (case-insensitive), devices idempotent`, async () => {
      const s = await make();
      const name = 'n' + randomUUID().slice(0, 8);
      const a = { userId: user(), userName: name, passwordHash: 'h', createdAtMs: 1 };
      await s.create(a);
      await assert.rejects(
        () => s.create({ ...a, userId: user(), userName: name.toUpperCase() }),
        (e: { kind: string }) => e.kind === 'already_exists',
      );
      assert.equal((await s.byName(name))!.userId, a.userId);
      assert.equal((await s.byId(a.userId))!.userName, name);
      assert.deepEqual(await s.addDevice({ userId: a.userId, deviceId: 'p', createdAtMs: 1 }), { created: true });
      assert.deepEqual(await s.addDevice({ userId: a.userId, deviceId: 'p', createdAtMs: 2 }), { created: false });
      assert.equal((await s.listDevices(a.userId)).length, 1);
    });
    test(`${f.name} AccountStore: racing creates of one name have exactly one winner`, async () => {
      const s = await make();
      const name = 'r' + randomUUID().slice(0, 8);
      const ids = Array.from({ length: 5 }, () => user());
      const results = await Promise.allSettled(
        ids.map((userId, i) => s.create({ userId, userName: i % 2 ? name.toUpperCase() : name, passwordHash: `h${i}`, createdAtMs: i })),
      );
      const won = results.findIndex((r) => r.status === 'fulfilled');
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { kind: string }).kind, 'already_exists');
      const stored = (await s.byName(name.toUpperCase()))!;
      assert.deepEqual(stored, { userId: ids[won]!, userName: won % 2 ? name.toUpperCase() : name, passwordHash: `h${won}`, createdAtMs: won });
      assert.deepEqual(await s.byId(ids[won]!), stored);
      assert.equal(await s.byName('nobody' + randomUUID().slice(0, 8)), undefined);
      assert.equal(await s.byId(user()), undefined);
      const devices = await Promise.all(['a', 'b', 'a'].map((d, i) => s.addDevice({ userId: stored.userId, deviceId: d, createdAtMs: i })));
      assert.equal(devices.filter((d) => d.created).length, 2);
      assert.deepEqual((await s.listDevices(stored.userId)).map((d) => d.deviceId).sort(), ['a', 'b']);
      assert.deepEqual(await s.listDevices(user()), []);
    });
    test(`${f.name} AccountStore: sessions rotate by compare-and-set (one winner), password change, delete frees the name`, async () => {
      const s = await make();
      const a = { userId: user(), userName: 's' + randomUUID().slice(0, 8), passwordHash: 'h', createdAtMs: 1 };
      await s.create(a);
      await s.addDevice({ userId: a.userId, deviceId: 'p', createdAtMs: 1 });
      assert.equal(await s.session(a.userId, 'p'), undefined);
      await s.saveSession({ userId: a.userId, deviceId: 'p', gen: 7, refreshHash: 'h0', refreshExpiresAtMs: 100, usedHashes: [] });
      const racing = await Promise.all(['h1', 'h2', 'h3'].map((h) => s.rotateRefresh(a.userId, 'p', 'h0', h, 200, 2)));
      assert.equal(racing.filter(Boolean).length, 1);
      const won = ['h1', 'h2', 'h3'][racing.indexOf(true)]!;
      assert.equal(await s.rotateRefresh(a.userId, 'p', won, 'h4', 300, 2), true);
      assert.equal(await s.rotateRefresh(a.userId, 'p', 'h9', 'h5', 300, 2), false);
      assert.equal(await s.rotateRefresh(a.userId, 'p', 'h4', 'h5', 400, 2), true);
      assert.deepEqual(await s.session(a.userId, 'p'), {
        userId: a.userId,
        deviceId: 'p',
        gen: 7,
        refreshHash: 'h5',
        refreshExpiresAtMs: 400,
        usedHashes: ['h4', won],
      });
      await s.saveSession({ userId: a.userId, deviceId: 'p', gen: 8, refreshHash: undefined, refreshExpiresAtMs: 0, usedHashes: ['h4'] });
      assert.deepEqual(await s.session(a.userId, 'p'), {
        userId: a.userId,
        deviceId: 'p',
        gen: 8,
        refreshHash: undefined,
        refreshExpiresAtMs: 0,
        usedHashes: ['h4'],
      });
      assert.equal(await s.rotateRefresh(a.userId, 'p', 'h5', 'h6', 500, 2), false);
      await s.removeDevice(a.userId, 'p');
      assert.deepEqual(await s.listDevices(a.userId), []);
      await s.setPassword(a.userId, 'h2');
      assert.equal((await s.byName(a.userName))!.passwordHash, 'h2');
      await s.delete({ ...a, passwordHash: 'h2' });
      await s.delete({ ...a, passwordHash: 'h2' });
      assert.equal(await s.byId(a.userId), undefined);
      assert.equal(await s.byName(a.userName), undefined);
      assert.equal(await s.session(a.userId, 'p'), undefined);
      await s.create({ ...a, userId: user() });
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
      assert.deepEqual(
        got,
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      off();
      off();
      assert.equal(s.subscriptionCount(), base);
      await s.publish(topic, { type: 'message', message: msg('g', 51) });
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(got.length, 50);
    });
  }
  if (f.registry) {
    const make = f.registry;
    test(`${f.name} Registry: members see each other, the hinted region wins, a leaver drops out`, async () => {
      const [a, b] = await make();
      try {
        const id = () => 'n_' + randomUUID().slice(0, 8);
        const na = { nodeId: id(), address: '127.0.0.1:50001', region: 'r-a' };
        const nb = { nodeId: id(), address: '127.0.0.1:50002', region: 'r-b' };
        await a.join({ ...na, capacity: 10 }, () => 0);
        await b.join({ ...nb, capacity: 10 }, () => 0);
        for (const [name, r] of [
          ['a', a],
          ['b', b],
        ] as const) {
          await eventually(`${name} picks a for r-a`, async () => (await r.pick('r-a'))?.nodeId === na.nodeId);
          await eventually(`${name} picks b for r-b`, async () => (await r.pick('r-b'))?.nodeId === nb.nodeId);
        }
        assert.deepEqual(await b.pick('r-a'), na, 'pick answers the node as it joined');
        assert.deepEqual(await a.alternative(na.nodeId), nb);
        assert.deepEqual(await b.alternative(nb.nodeId), na);
        await a.leave();
        assert.notEqual((await a.pick('r-a'))?.nodeId, na.nodeId, 'a leaver drops out of its own view at once');
        assert.deepEqual(await a.alternative(na.nodeId), nb, 'a leaver still knows where to send its clients');
        await eventually('b stops picking a', async () => (await b.pick('r-a'))?.nodeId === nb.nodeId);
        assert.equal(await b.alternative(nb.nodeId), undefined);
        await b.leave();
        assert.equal(await b.pick('r-b'), undefined, 'undefined once no healthy node is known');
      } finally {
        await a.close();
        await b.close();
      }
    });
  }
  if (f.rateLimiter) {
    const make = f.rateLimiter;
    test(`${f.name} RateLimiter: a burst is allowed, then a wait is reported, and tokens refill`, async () => {
      const s = await make();
      const key = `k${randomUUID()}`;
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await s.take(key, 20, 3));
      assert.deepEqual(results.slice(0, 3), [0, 0, 0], 'burst of 3');
      assert.ok(results[3]! > 0 && results[3]! <= 50, `then a wait of at most 1/20 s (${results[3]})`);
      assert.equal(await s.take(`k${randomUUID()}`, 20, 3), 0, 'buckets are per key');
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(await s.take(key, 20, 3), 0, 'refilled');
    });
  }
}

/** A claim result without the store's `unvouched` note (what the contract fixes for every store). */
function only(c: ClaimResult) {
  if (c.status !== 'claimed') return c;
  const { unvouched: _, ...rest } = c;
  return rest;
}
