import { toDomainError, type CqlSession } from './CqlSession.js';

/**
 * The CQL schema, one statement per table, in creation order. Every statement
 * is `IF NOT EXISTS`, so running them again at each start-up is a no-op; a
 * later schema change is a new statement appended here (never an edit of a
 * released one), written so that it is idempotent as well.
 *
 * Layout (why each table exists):
 * - messages: history, partitioned by (channel_id, bucket) with
 *   bucket = floor(id / bucketSize) so no partition grows without bound,
 *   clustered by id DESC because "newest first" is the hot read.
 * - messages_by_client: (sender, client_msg_id) -> (channel, id), so a send
 *   that recovers an abandoned claim finds what the dead attempt stored
 *   (kept 30 days, well past any idempotency window).
 * - message_buckets: per channel, the buckets that hold messages (DESC), so
 *   `before(0)`, `maxId` and `after` find the right partitions and page across
 *   bucket boundaries without scanning.
 * - channels: one partition per channel; the channel's own fields are static
 *   columns, each member a clustering row. Membership changes are conditional
 *   batches on this single partition (`IF version = ?`), which makes them
 *   atomic and linearizable and lets the member cap be checked exactly.
 * - user_channels: user -> channels, derived from `channels` (see
 *   ScyllaChannelStore for how it is kept from ever listing a channel the user
 *   is not in).
 * - accounts / account_names / devices: accounts by id; the lower-cased user
 *   name claimed with IF NOT EXISTS (uniqueness); devices per user.
 * - delivered_cursors / read_pointers: forward-only pointers written with
 *   USING TIMESTAMP = the pointer itself (see ScyllaCursorStore).
 * - meta: layout parameters fixed when the keyspace was created.
 * - skipped_ids: per channel, id ranges the sequencer passed over when it
 *   re-seeded a lost counter (see ScyllaSkippedIds), clustered by the last id.
 * - device_sessions (added with refresh tokens; a new table rather than new
 *   columns on `devices`, so the upgrade of an existing keyspace is one more
 *   CREATE TABLE IF NOT EXISTS): per device the token generation, the hash of
 *   the current refresh token and the last rotated-out hashes. A device
 *   without a row signed in before sessions existed: generation 0, no refresh token.
 * - message_changes: per channel, the ids of lifecycle entries (edits,
 *   deletes, reactions), so unread counts leave them out with one range read.
 * - member_pointers: per channel and member, the highest id any of the
 *   member's devices acked and the member's read pointer (receipts), each a
 *   max-register like delivered_cursors.
 * - blocks / blocks_by_blocked / invitations / mutes (added with consent;
 *   new tables only, so an existing keyspace upgrades in place): blocks by
 *   blocker and by blocked user (both directions of one user in two
 *   single-partition reads), pending invitations per invitee, channel mutes
 *   per user (see ScyllaSafetyStore).
 */
export const SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS messages (
     channel_id text, bucket bigint, id bigint,
     sender_user_id text, sender_device_id text, client_msg_id text,
     body text, sent_at_ms bigint, kind text,
     PRIMARY KEY ((channel_id, bucket), id)
   ) WITH CLUSTERING ORDER BY (id DESC)`,
  `CREATE TABLE IF NOT EXISTS messages_by_client (
     sender_user_id text, client_msg_id text, channel_id text, id bigint,
     PRIMARY KEY ((sender_user_id, client_msg_id))
   ) WITH default_time_to_live = 2592000`,
  `CREATE TABLE IF NOT EXISTS message_buckets (
     channel_id text, bucket bigint,
     PRIMARY KEY (channel_id, bucket)
   ) WITH CLUSTERING ORDER BY (bucket DESC)`,
  `CREATE TABLE IF NOT EXISTS channels (
     id text, user_id text,
     kind text STATIC, title text STATIC, created_at_ms bigint STATIC,
     version bigint STATIC, member_count int STATIC,
     role text, joined_version bigint, joined_index int,
     PRIMARY KEY (id, user_id)
   )`,
  `CREATE TABLE IF NOT EXISTS user_channels (
     user_id text, channel_id text,
     PRIMARY KEY (user_id, channel_id)
   )`,
  `CREATE TABLE IF NOT EXISTS accounts (
     user_id text PRIMARY KEY, user_name text, password_hash text, created_at_ms bigint
   )`,
  `CREATE TABLE IF NOT EXISTS account_names (
     name_lc text PRIMARY KEY, user_id text
   )`,
  `CREATE TABLE IF NOT EXISTS devices (
     user_id text, device_id text, created_at_ms bigint,
     PRIMARY KEY (user_id, device_id)
   )`,
  `CREATE TABLE IF NOT EXISTS delivered_cursors (
     user_id text, device_id text, channel_id text, last_id bigint,
     PRIMARY KEY ((user_id, device_id), channel_id)
   )`,
  `CREATE TABLE IF NOT EXISTS read_pointers (
     user_id text, channel_id text, last_id bigint,
     PRIMARY KEY (user_id, channel_id)
   )`,
  `CREATE TABLE IF NOT EXISTS meta (
     name text PRIMARY KEY, value text
   )`,
  `CREATE TABLE IF NOT EXISTS skipped_ids (
     channel_id text, to_id bigint, from_id bigint,
     PRIMARY KEY (channel_id, to_id)
   ) WITH CLUSTERING ORDER BY (to_id ASC)`,
  `CREATE TABLE IF NOT EXISTS device_sessions (
     user_id text, device_id text, gen bigint,
     refresh_hash text, refresh_expires_at_ms bigint, used_hashes list<text>,
     PRIMARY KEY (user_id, device_id)
   )`,
  `CREATE TABLE IF NOT EXISTS message_changes (
     channel_id text, id bigint,
     PRIMARY KEY (channel_id, id)
   )`,
  `CREATE TABLE IF NOT EXISTS member_pointers (
     channel_id text, user_id text, delivered bigint, read bigint,
     PRIMARY KEY (channel_id, user_id)
   )`,
  `CREATE TABLE IF NOT EXISTS blocks (
     blocker text, blocked text, at_ms bigint,
     PRIMARY KEY (blocker, blocked)
   )`,
  `CREATE TABLE IF NOT EXISTS blocks_by_blocked (
     blocked text, blocker text,
     PRIMARY KEY (blocked, blocker)
   )`,
  `CREATE TABLE IF NOT EXISTS invitations (
     invitee_user_id text, channel_id text, inviter_user_id text, created_at_ms bigint,
     PRIMARY KEY (invitee_user_id, channel_id)
   )`,
  `CREATE TABLE IF NOT EXISTS mutes (
     user_id text, channel_id text, until_ms bigint,
     PRIMARY KEY (user_id, channel_id)
   )`,
];

/**
 * Columns added to existing tables after their release, in order: each is
 * added only when `system_schema.columns` does not list it yet (CQL has no
 * portable `ADD IF NOT EXISTS`), so a keyspace of any earlier version is
 * upgraded in place and running it again is a no-op.
 * messages: the current state of a message (reply, edits, delete, reactions
 * as a set of "emoji NUL user id" elements: adding and removing elements
 * needs no read and concurrent reactors never overwrite each other) and the
 * fields of lifecycle entries.
 */
export const ADDED_COLUMNS: ReadonlyArray<readonly [table: string, column: string, type: string]> = [
  ['messages', 'reply_to_id', 'bigint'],
  ['messages', 'edited_at_ms', 'bigint'],
  ['messages', 'edit_ids', 'set<bigint>'],
  ['messages', 'deleted', 'boolean'],
  ['messages', 'reactions', 'set<text>'],
  ['messages', 'last_change_id', 'bigint'],
  ['messages', 'target_id', 'bigint'],
  ['messages', 'emoji', 'text'],
  ['messages', 'reaction_removed', 'boolean'],
];

/** Settings of the physical layout that must never change for a keyspace. */
export interface LayoutSettings {
  /** Message ids per `messages` partition. */
  messageBucketSize: number;
}

/**
 * Creates the keyspace (replication from config, only on first creation: an
 * existing keyspace keeps its replication, which is an operator's
 * `ALTER KEYSPACE`) and every table, then pins the layout settings: a node
 * started with a different bucket size than the keyspace was created with
 * would read the wrong partitions and silently lose history, so it fails
 * fast instead.
 * Nodes starting together may run this concurrently; the statements are
 * idempotent and the driver waits for schema agreement after each one.
 */
export async function migrate(session: CqlSession, layout: LayoutSettings): Promise<void> {
  const replication = session.options.replication.trim();
  if (!/^\{[^;{}]*\}$/.test(replication)) throw new Error(`invalid CQL replication map ${replication}`);
  await ddl(session, `CREATE KEYSPACE IF NOT EXISTS ${session.keyspace} WITH replication = ${replication} AND durable_writes = true`);
  for (const statement of SCHEMA) {
    await ddl(
      session,
      statement.replace(/^CREATE TABLE IF NOT EXISTS (\w+)/, (_, t: string) => `CREATE TABLE IF NOT EXISTS ${session.table(t)}`),
    );
  }
  await addColumns(session);
  const want = String(layout.messageBucketSize);
  const rs = await session.execute(`INSERT INTO ${session.table('meta')} (name, value) VALUES ('message_bucket_size', ?) IF NOT EXISTS`, [want], {
    idempotent: false,
    readTimeoutMs: SCHEMA_TIMEOUT_MS,
  });
  const have = rs.wasApplied() ? want : String(rs.first()?.['value']);
  if (have !== want) {
    throw new Error(
      `keyspace ${session.keyspace} stores messages in buckets of ${have} ids; this node is configured with ${want}. ` +
        `Use the keyspace's bucket size (changing it needs a data migration).`,
    );
  }
}

async function addColumns(session: CqlSession) {
  const rs = await session.client.execute('SELECT table_name, column_name FROM system_schema.columns WHERE keyspace_name = ?', [session.keyspace], {
    prepare: true,
    readTimeout: SCHEMA_TIMEOUT_MS,
  });
  const have = new Set(rs.rows.map((r) => `${r['table_name']}.${r['column_name']}`));
  for (const [table, column, type] of ADDED_COLUMNS) {
    if (have.has(`${table}.${column}`)) continue;
    try {
      await ddl(session, `ALTER TABLE ${session.table(table)} ADD ${column} ${type}`);
    } catch (e) {
      // Another node starting at the same time added it first.
      if (!/conflicts with an existing column|already exists/i.test(String((e as Error).message))) throw e;
    }
  }
}

/**
 * The client-side bound of each start-up statement. `CHAT_CQL_REQUEST_TIMEOUT_MS` bounds the
 * send path and may be short (the outage tests use 1.5 s); a schema change on a cold or busy
 * cluster can take longer than that, and a node must not fail to start for it.
 */
const SCHEMA_TIMEOUT_MS = 30_000;

async function ddl(session: CqlSession, statement: string) {
  // DDL is not prepared; it is idempotent by IF NOT EXISTS.
  try {
    await session.client.execute(statement, [], { prepare: false, isIdempotent: true, readTimeout: SCHEMA_TIMEOUT_MS });
  } catch (e) {
    throw toDomainError(e);
  }
}
