import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import cassandra from 'cassandra-driver';
import { contractSuites } from './suites.js';
import { safetySuite } from './safetySuite.js';
import { SCHEMA } from '../../src/adapters/scylla/migrate.js';
import { createScyllaStores, toDomainError, type ScyllaStoreOptions, type ScyllaStores } from '../../src/adapters/scylla/index.js';

/**
 * The CQL adapters against a real node (Cassandra 5.0 from test/infra/cassandra.sh,
 * started by `make test`; any CQL node on CHAT_CQL_CONTACT_POINTS works).
 * Each run uses fresh keyspaces, dropped at the end. No node = a failing test
 * with a message saying how to start one, never a silent skip.
 */
const contactPoints = (process.env.CHAT_CQL_CONTACT_POINTS ?? '127.0.0.1:9042').split(',').map((s) => s.trim());
const run = randomBytes(4).toString('hex');
const base: ScyllaStoreOptions = {
  contactPoints,
  localDataCenter: process.env.CHAT_CQL_LOCAL_DC ?? 'datacenter1',
  keyspace: `chat_test_${run}`,
  replication: "{'class':'SimpleStrategy','replication_factor':1}",
  consistency: 'ONE',
  requestTimeoutMs: 10_000,
};

/** One keyspace per bucket size: the size is pinned per keyspace by the migration. */
const opened = new Map<number, Promise<ScyllaStores>>();
function stores(bucketSize = 1000): Promise<ScyllaStores> {
  let s = opened.get(bucketSize);
  if (!s) {
    const keyspace = bucketSize === 1000 ? base.keyspace : `${base.keyspace}_b${bucketSize}`;
    s = createScyllaStores({ ...base, keyspace, messageBucketSize: bucketSize }).catch((e: unknown) => {
      const cause = (e as { cause?: unknown }).cause ?? e;
      throw new Error(
        `no CQL node answers at ${contactPoints.join(',')} (${String(cause instanceof Error ? cause.message : cause).split('\n')[0]}). ` +
          'Start one with `make infra` (test/infra/cassandra.sh) or point CHAT_CQL_CONTACT_POINTS at one.',
      );
    });
    opened.set(bucketSize, s);
  }
  return s;
}

after(async () => {
  const all = await Promise.allSettled([...opened.values()]);
  const client = new cassandra.Client({ contactPoints, localDataCenter: base.localDataCenter });
  try {
    const ks = await client.execute(`SELECT keyspace_name FROM system_schema.keyspaces`);
    for (const row of ks.rows) {
      const name = row['keyspace_name'] as string;
      if (name === base.keyspace || name.startsWith(`${base.keyspace}_b`)) await client.execute(`DROP KEYSPACE IF EXISTS ${name}`);
    }
  } catch {
    // Nothing to drop when the node was never reachable.
  } finally {
    await client.shutdown().catch(() => {});
    for (const s of all) if (s.status === 'fulfilled') await s.value.close();
  }
});

// Fail the file up front (once, clearly) when there is no node.
await stores();

contractSuites({
  name: 'scylla',
  messages: async (o) => (await stores(o?.bucketSize)).messages,
  channels: async () => (await stores()).channels,
  accounts: async () => (await stores()).accounts,
  cursors: async () => (await stores()).cursors,
});
safetySuite('scylla', async () => (await stores()).safety);

/** The same keyspace with cursors written behind (CHAT_CURSOR_WRITE_BEHIND_MS), for the cursor contract and the test below. */
let behind: Promise<ScyllaStores> | undefined;
const writeBehind = () => (behind ??= stores().then(() => createScyllaStores({ ...base, cursorWriteBehindMs: 150 })));
after(async () => {
  if (behind) await (await behind).close();
});

contractSuites({
  name: 'scylla (cursors written behind)',
  messages: async (o) => (await stores(o?.bucketSize)).messages,
  channels: async () => (await stores()).channels,
  accounts: async () => (await stores()).accounts,
  cursors: async () => (await writeBehind()).cursors,
});

test('scylla: written-behind cursors are visible on the node at once, in the store within the delay, and flushed at close', async () => {
  const wb = await writeBehind();
  const through = await stores();
  const u = `u_wb_${randomBytes(4).toString('hex')}`;
  await wb.cursors.ackDelivered(u, 'd', [{ channelId: 'd_a', lastMessageId: 5 }]);
  await wb.cursors.ackDelivered(u, 'd', [
    { channelId: 'd_a', lastMessageId: 3 },
    { channelId: 'd_b', lastMessageId: 7 },
  ]);
  assert.equal(await wb.cursors.markRead(u, 'd_a', 9), 9);
  assert.equal(await wb.cursors.markRead(u, 'd_a', 4), 9, 'answered from memory: the pointer never goes back');
  assert.deepEqual([...(await wb.cursors.delivered(u, 'd'))].sort(), [
    ['d_a', 5],
    ['d_b', 7],
  ]);
  assert.equal((await wb.cursors.readPointers(u, ['d_a'])).get('d_a'), 9);
  const deadline = Date.now() + 5000;
  // Delivery cursors and read pointers are written behind in their own batches: wait for both.
  const landed = async () => (await through.cursors.delivered(u, 'd')).size === 2 && (await through.cursors.readPointers(u, ['d_a'])).get('d_a') === 9;
  while (!(await landed()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual([...(await through.cursors.delivered(u, 'd'))].sort(), [
    ['d_a', 5],
    ['d_b', 7],
  ]);
  assert.equal((await through.cursors.readPointers(u, ['d_a'])).get('d_a'), 9);
  // Queued at shutdown: written by close().
  const last = await createScyllaStores({ ...base, cursorWriteBehindMs: 60_000 });
  await last.cursors.ackDelivered(u, 'd', [{ channelId: 'd_a', lastMessageId: 8 }]);
  await last.cursors.markRead(u, 'd_a', 11);
  await last.close();
  assert.equal((await through.cursors.delivered(u, 'd')).get('d_a'), 8);
  assert.equal((await through.cursors.readPointers(u, ['d_a'])).get('d_a'), 11);
});

test('scylla: the migration is idempotent and refuses a different bucket size for the same keyspace', async () => {
  const again = await createScyllaStores({ ...base, messageBucketSize: 1000 });
  await again.close();
  await assert.rejects(() => createScyllaStores({ ...base, messageBucketSize: 500 }), /buckets of 1000 ids/);
});

test('scylla: a keyspace of the previous version (before device_sessions) upgrades in place, keeping its accounts', async () => {
  const keyspace = `${base.keyspace}_bup`; // dropped by after() with the other test keyspaces
  const previous = SCHEMA.slice(
    0,
    SCHEMA.findIndex((t) => t.includes('device_sessions')),
  );
  const client = new cassandra.Client({ contactPoints, localDataCenter: base.localDataCenter });
  try {
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${base.replication}`);
    for (const t of previous) await client.execute(t.replace(/^CREATE TABLE IF NOT EXISTS (\w+)/, `CREATE TABLE ${keyspace}.$1`));
    await client.execute(`INSERT INTO ${keyspace}.accounts (user_id, user_name, password_hash, created_at_ms) VALUES ('u_old', 'Old', 'h', 1)`);
    await client.execute(`INSERT INTO ${keyspace}.account_names (name_lc, user_id) VALUES ('old', 'u_old')`);
    await client.execute(`INSERT INTO ${keyspace}.devices (user_id, device_id, created_at_ms) VALUES ('u_old', 'p', 1)`);
  } finally {
    await client.shutdown();
  }
  for (let i = 0; i < 2; i++) {
    const s = await createScyllaStores({ ...base, keyspace, messageBucketSize: 1000 });
    try {
      assert.equal((await s.accounts.byName('old'))?.userId, 'u_old');
      assert.deepEqual(
        (await s.accounts.listDevices('u_old')).map((d) => d.deviceId),
        ['p'],
      );
      if (i === 0) {
        assert.equal(await s.accounts.session('u_old', 'p'), undefined, 'a device from before sessions: generation 0, no refresh token');
        await s.accounts.saveSession({ userId: 'u_old', deviceId: 'p', gen: 0, refreshHash: 'h1', refreshExpiresAtMs: 9, usedHashes: [] });
        // The consent tables (blocks, invitations, mutes) came with the upgrade.
        await s.safety.block('u_old', 'u_new', 5);
      }
      assert.deepEqual((await s.safety.blocks('u_new')).blockers, ['u_old']);
      assert.equal(await s.accounts.rotateRefresh('u_old', 'p', `h${i + 1}`, `h${i + 2}`, 10, 4), true);
    } finally {
      await s.close();
    }
  }
});

test('scylla: no reachable node means unavailable, not a crash or a hang', async () => {
  const started = Date.now();
  await assert.rejects(
    () => createScyllaStores({ ...base, contactPoints: ['127.0.0.1:1'], requestTimeoutMs: 1000 }),
    (e: { kind?: string }) => e.kind === 'unavailable',
  );
  assert.ok(Date.now() - started < 10_000);
  const closed = await createScyllaStores(base);
  await closed.close();
  await assert.rejects(
    () => closed.messages.maxId('g_x'),
    (e: { kind?: string }) => e.kind === 'unavailable',
  );
});

test('scylla: driver timeouts and replica failures map to unavailable; other errors pass through', () => {
  const { errors, types } = cassandra;
  const kind = (e: unknown) => (toDomainError(e) as { kind?: string }).kind;
  assert.equal(kind(new errors.NoHostAvailableError({})), 'unavailable');
  assert.equal(kind(new errors.OperationTimedOutError('timeout')), 'unavailable');
  assert.equal(kind(new errors.ResponseError(types.responseErrorCodes.writeTimeout, 'write timeout')), 'unavailable');
  assert.equal(kind(new errors.ResponseError(types.responseErrorCodes.unavailableException, 'unavailable')), 'unavailable');
  // What the driver gives a request whose connection closed under it (cassandraRestart.test.ts once got INTERNAL from this).
  const DriverError = errors.DriverError as unknown as new (message: string) => Error;
  const closed = Object.assign(new DriverError('Socket was closed'), { isSocketError: true });
  assert.equal(kind(closed), 'unavailable');
  const syntax = new errors.ResponseError(types.responseErrorCodes.syntaxError, 'line 1: bad');
  assert.equal(toDomainError(syntax), syntax);
});

test('scylla: an existing keyspace of the previous schema is upgraded in place (columns added once), its messages stay readable and can be changed', async () => {
  const keyspace = `${base.keyspace}_bupgrade`; // dropped by the after() hook (prefix `_b`)
  const client = new cassandra.Client({ contactPoints, localDataCenter: base.localDataCenter });
  try {
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${base.replication}`);
    // The messages table as released before the lifecycle columns, with one message in it.
    await client.execute(`CREATE TABLE ${keyspace}.messages (
       channel_id text, bucket bigint, id bigint, sender_user_id text, sender_device_id text, client_msg_id text,
       body text, sent_at_ms bigint, kind text, PRIMARY KEY ((channel_id, bucket), id)) WITH CLUSTERING ORDER BY (id DESC)`);
    await client.execute(
      `INSERT INTO ${keyspace}.messages (channel_id, bucket, id, sender_user_id, sender_device_id, client_msg_id, body, sent_at_ms, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ['g_old', 0, 1, 'u_a', 'd', 'c1', 'old text', 5, 'user'],
      { prepare: true },
    );
    const first = await createScyllaStores({ ...base, keyspace });
    await first.close();
    const s = await createScyllaStores({ ...base, keyspace }); // again: nothing left to add
    try {
      const old = await s.messages.get('g_old', 1);
      assert.deepEqual(old, {
        channelId: 'g_old',
        id: 1,
        senderUserId: 'u_a',
        senderDeviceId: 'd',
        clientMsgId: 'c1',
        body: 'old text',
        sentAtMs: 5,
        kind: 'user',
      });
      const entry = { ...old!, id: 2, clientMsgId: '', body: '', kind: 'reaction' as const, targetId: 1, emoji: '👍' };
      await s.messages.append(entry);
      await s.messages.applyChange(entry);
      assert.deepEqual((await s.messages.get('g_old', 1))?.reactions, [{ emoji: '👍', userIds: ['u_a'] }]);
    } finally {
      await s.close();
    }
    const cols = await client.execute('SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?', [keyspace, 'messages'], {
      prepare: true,
    });
    assert.ok(cols.rows.some((r) => r['column_name'] === 'reactions'));
  } finally {
    await client.shutdown();
  }
});
