import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel } from '../domain/model.js';
import { MemoryChannelStore } from './memory/MemoryChannelStore.js';
import { CachedChannelStore } from './CachedChannelStore.js';

const group = (id: string, ...users: string[]): Channel => ({
  id,
  kind: 'group',
  title: 't',
  createdAtMs: 1,
  members: users.map((userId, i) => ({ userId, role: i === 0 ? 'owner' : 'member' })),
});

/** A store shared by two nodes: `other` writes behind this node's cache. */
function setup(ttlMs = 1000) {
  let now = 0;
  const shared = new MemoryChannelStore();
  let reads = 0;
  const counted = Object.assign(Object.create(shared) as MemoryChannelStore, {
    // Like the CQL store: a fresh, mutable object per read.
    get: async (id: string) => {
      reads++;
      const c = await shared.get(id);
      return c && structuredClone(c);
    },
  });
  const cache = new CachedChannelStore(counted, ttlMs, () => now);
  return { cache, other: shared, reads: () => reads, advance: (ms: number) => (now += ms) };
}

test('reads within the TTL are served from memory; a change made elsewhere shows once the TTL has passed', async () => {
  const { cache, other, reads, advance } = setup();
  await other.create(group('g1', 'u1', 'u2'));
  for (let i = 0; i < 10; i++) assert.equal((await cache.get('g1'))!.members.length, 2);
  assert.equal(reads(), 1);
  await other.removeMember('g1', 'u2');
  advance(999);
  assert.equal((await cache.get('g1'))!.members.length, 2, 'stale for at most the TTL');
  assert.equal((await cache.get('g1', { fresh: true }))!.members.length, 1, 'unless the caller asks for the stored truth');
  advance(1);
  assert.equal((await cache.get('g1'))!.members.length, 1, 'the removal is seen after the TTL');
  assert.equal(reads(), 2, 'the fresh read refreshed the entry');
});

test('writes through the cache are seen at once, including a read racing the write', async () => {
  const { cache, reads } = setup(60_000);
  await cache.create(group('g1', 'u1'));
  assert.equal((await cache.get('g1'))!.members.length, 1);
  await cache.addMembers('g1', [{ userId: 'u2', role: 'member' }], 100);
  assert.equal((await cache.get('g1'))!.members.length, 2);
  // A read that started before a removal must not put the old member list back.
  const racing = cache.get('g1');
  await cache.removeMember('g1', 'u2');
  await racing;
  assert.deepEqual(
    (await cache.get('g1'))!.members.map((m) => m.userId),
    ['u1'],
  );
  await cache.setRole('g1', 'u1', 'admin');
  assert.equal((await cache.get('g1'))!.members[0]!.role, 'admin');
  assert.ok(reads() >= 4);
});

test('a channel that does not exist is not remembered, and cached channels cannot be changed by callers', async () => {
  const { cache, other } = setup(60_000);
  assert.equal(await cache.get('g2'), undefined);
  await other.create(group('g2', 'u1'));
  const ch = (await cache.get('g2'))!;
  assert.ok(ch, 'created elsewhere right after a miss: found');
  assert.throws(() => (ch.members as unknown[]).push({ userId: 'x', role: 'member' }));
});

test('peek answers from a live entry only: nothing before a read, nothing past the TTL or after a local write', async () => {
  const { cache, other, reads, advance } = setup();
  await other.create(group('g1', 'u1', 'u2'));
  assert.equal(cache.peek('g1'), undefined, 'not read yet: the caller must ask get');
  await cache.get('g1');
  assert.equal(cache.peek('g1')?.members.length, 2);
  assert.equal(reads(), 1, 'peek never reads the store');
  advance(1000);
  assert.equal(cache.peek('g1'), undefined, 'past the TTL');
  await cache.get('g1');
  await cache.removeMember('g1', 'u2');
  assert.equal(cache.peek('g1'), undefined, 'a write through this node drops the entry');
  assert.equal((await cache.get('g1'))!.members.length, 1);
  assert.equal(cache.peek('g1')?.members.length, 1);
});
