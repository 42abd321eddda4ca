import type { Message, MessageKind, Reaction } from '../../domain/model.js';
import type { MessageStore } from '../../ports/MessageStore.js';
import { num, type CqlSession, type Row } from './CqlSession.js';

/** Options of the CQL message store. */
export interface ScyllaMessageStoreOptions {
  /**
   * Message ids per partition (default 1000). Fixed for the life of a
   * keyspace: migrate() refuses a node configured with another value.
   */
  bucketSize?: number;
}

/** How many bucket numbers one index read returns before asking for more. */
const BUCKET_PAGE = 32;
/** Buckets remembered as indexed, per process; past this the memo starts over. */
const KNOWN_BUCKETS_MAX = 100_000;

const COLUMNS =
  'channel_id, id, sender_user_id, sender_device_id, client_msg_id, body, sent_at_ms, kind, ' +
  'reply_to_id, edited_at_ms, edit_ids, deleted, reactions, last_change_id, target_id, emoji, reaction_removed';
/** Separates the emoji from the user id in an element of the `reactions` set. */
const SEP = '\u0000';

/**
 * Channel history in ScyllaDB/Cassandra (tables `messages`,
 * `messages_by_client` and `message_buckets`, see migrate.ts).
 *
 * Write path: plain, idempotent writes sent together: the message row and
 * the (sender, client_msg_id) -> id pointer in `messages_by_client` as one
 * unlogged batch (one request: cheaper than two, though not atomic), and the
 * bucket in the per-channel bucket index (skipped once this process has
 * written it). `append` resolves only when all three are durable, so
 * an acknowledged message is always reachable through the index and its
 * pointer. A failed append (the send is refused, never acknowledged) may leave
 * any subset behind. An index entry or a pointer without its row is harmless:
 * readers skip an empty bucket, and `findByClientMsgId` checks the sender and
 * client_msg_id of the row a pointer leads to. A row without them is what any
 * write with an unknown outcome (a timeout) could always leave: an
 * unacknowledged message that may show up in history (if its index write was
 * the one that failed, once a later append indexes the bucket). Should the
 * batch's pointer write fail while its row is applied, a send that recovers
 * that claim does not find the row and stores the message a second time.
 *
 * No lightweight transaction: the row is a plain INSERT, so writing an id
 * that already holds another message replaces it (last write wins). That
 * never happens because ids are unique by the sequencer's guarantee (a
 * counter Redis cannot vouch for after a restart, a failover or a flush is
 * moved past durable history + margin before it issues again, see
 * RedisSequencer). The remaining risk lives there: more than `margin` ids in
 * flight in one channel at the moment Redis loses data. Re-sending the same
 * message (driver retry after a timeout) rewrites identical values.
 *
 * Reads walk the bucket index newest-first (`before`, `maxId`) or
 * oldest-first (`after`) and stop as soon as `limit` rows are collected, so a
 * page costs one index read plus one read per bucket it touches.
 */
export class ScyllaMessageStore implements MessageStore {
  readonly bucketSize: number;
  private readonly knownBuckets = new Set<string>();
  private readonly q: ReturnType<typeof queries>;

  constructor(
    private readonly session: CqlSession,
    options: ScyllaMessageStoreOptions = {},
  ) {
    this.bucketSize = options.bucketSize ?? 1000;
    if (!Number.isSafeInteger(this.bucketSize) || this.bucketSize < 1) throw new Error(`invalid message bucket size ${this.bucketSize}`);
    this.q = queries(session);
  }

  /** Durable at the configured consistency when it resolves; an idempotent write of a sequencer-unique id (see the class comment). */
  async append(message: Message): Promise<void> {
    const bucket = this.bucketOf(message.id);
    const row = {
      query: this.q.insert,
      params: [
        message.channelId,
        bucket,
        message.id,
        message.senderUserId,
        message.senderDeviceId,
        message.clientMsgId,
        message.body,
        message.sentAtMs,
        message.kind,
        message.replyToId ?? null,
        message.targetId ?? null,
        message.emoji ?? null,
        message.reactionRemoved ?? null,
      ],
    };
    await Promise.all([
      message.targetId ? this.session.execute(this.q.change, [message.channelId, message.id], { idempotent: true }) : undefined,
      message.clientMsgId
        ? this.session.batch([row, { query: this.q.byClient, params: [message.senderUserId, message.clientMsgId, message.channelId, message.id] }], {
            idempotent: true,
            logged: false,
          })
        : this.session.execute(row.query, row.params, { idempotent: true }),
      this.ensureIndexed(message.channelId, bucket),
    ]);
  }

  /**
   * Via `messages_by_client`, written with the message row: a pointer whose row
   * is missing (that attempt failed) or holds another message is no answer.
   */
  async findByClientMsgId(senderUserId: string, clientMsgId: string): Promise<Message | undefined> {
    const ref = (await this.session.execute(this.q.findByClient, [senderUserId, clientMsgId], { idempotent: true })).first();
    if (!ref) return undefined;
    const m = await this.get(ref['channel_id'], num(ref['id']));
    return m && m.senderUserId === senderUserId && m.clientMsgId === clientMsgId ? m : undefined;
  }

  async get(channelId: string, id: number): Promise<Message | undefined> {
    const rs = await this.session.execute(this.q.get, [channelId, this.bucketOf(id), id], { idempotent: true });
    const row = rs.first();
    return row ? toMessage(row) : undefined;
  }

  async after(channelId: string, afterId: number, limit: number): Promise<Message[]> {
    const out: Message[] = [];
    if (limit <= 0) return out;
    let from = this.bucketOf(Math.max(0, afterId + 1));
    for (;;) {
      const buckets = await this.buckets(this.q.bucketsUp, channelId, from);
      for (const bucket of buckets) {
        const rows = await this.session.all(this.q.newer, [channelId, bucket, afterId, limit - out.length], { idempotent: true });
        out.push(...rows.map(toMessage));
        if (out.length >= limit) return out;
      }
      if (buckets.length < BUCKET_PAGE) return out;
      from = buckets[buckets.length - 1]! + 1;
    }
  }

  async before(channelId: string, beforeId: number, limit: number): Promise<Message[]> {
    const out: Message[] = [];
    if (limit <= 0 || beforeId === 1) return out;
    const below = beforeId > 0 ? beforeId : Number.MAX_SAFE_INTEGER;
    let from = this.bucketOf(below - 1);
    for (;;) {
      const buckets = await this.buckets(this.q.bucketsDown, channelId, from);
      for (const bucket of buckets) {
        const rows = await this.session.all(this.q.older, [channelId, bucket, below, limit - out.length], { idempotent: true });
        out.push(...rows.map(toMessage));
        if (out.length >= limit) return out;
      }
      if (buckets.length < BUCKET_PAGE) return out;
      from = buckets[buckets.length - 1]! - 1;
      if (from < 0) return out;
    }
  }

  async maxId(channelId: string): Promise<number> {
    let from = this.bucketOf(Number.MAX_SAFE_INTEGER);
    for (;;) {
      const buckets = await this.buckets(this.q.bucketsDown, channelId, from);
      for (const bucket of buckets) {
        const row = (await this.session.execute(this.q.newest, [channelId, bucket], { idempotent: true })).first();
        if (row) return num(row['id']);
      }
      if (buckets.length < BUCKET_PAGE) return 0;
      from = buckets[buckets.length - 1]! - 1;
      if (from < 0) return 0;
    }
  }

  /**
   * Reactions are set-element writes (no read; concurrent reactors never overwrite each
   * other). An edit or delete reads the target first (its edit ids) and then writes:
   * two changes of one message applied at the same moment may leave `last_change_id`
   * at the lower of the two ids. The erased body is an overwrite: the old cell is
   * shadowed at once and purged from disk at compaction.
   */
  async applyChange(entry: Message): Promise<void> {
    const target = entry.targetId;
    if (!target) return;
    const key = [entry.channelId, this.bucketOf(target), target];
    const opts = { idempotent: true };
    if (entry.kind === 'reaction') {
      const q = entry.reactionRemoved ? this.q.unreact : this.q.react;
      await this.session.execute(q, [[`${entry.emoji}${SEP}${entry.senderUserId}`], entry.id, ...key], opts);
      return;
    }
    const row = (await this.session.execute(this.q.state, key, opts)).first();
    if (!row) return;
    const editIds = ((row['edit_ids'] as unknown[] | null) ?? []).map(num);
    if (entry.kind === 'edit') {
      if (row['deleted'] || editIds.includes(entry.id)) return;
      const newest = editIds.every((id) => id < entry.id);
      const params = newest ? [entry.body, entry.sentAtMs, [entry.id], entry.id, ...key] : [[entry.id], ...key];
      await this.session.execute(newest ? this.q.edit : this.q.addEditId, params, opts);
    } else if (entry.kind === 'delete') {
      await Promise.all([
        this.session.execute(this.q.erase, [entry.id, ...key], opts),
        ...editIds.map((id) => this.session.execute(this.q.eraseEntry, [entry.channelId, this.bucketOf(id), id], opts)),
      ]);
    }
  }

  /** One range read of the channel's partition in `message_changes`. */
  async countChanges(channelId: string, afterId: number, upTo: number): Promise<number> {
    if (upTo <= afterId) return 0;
    const row = (await this.session.execute(this.q.countChanges, [channelId, afterId, upTo], { idempotent: true })).first();
    return row ? num(row['n']) : 0;
  }

  private bucketOf(id: number): number {
    return Math.floor(id / this.bucketSize);
  }

  private async buckets(query: string, channelId: string, from: number): Promise<number[]> {
    const rs = await this.session.execute(query, [channelId, from], { idempotent: true });
    return rs.rows.map((r) => num(r['bucket']));
  }

  /** Bucket index rows are never deleted, so remembering a write is safe. */
  private async ensureIndexed(channelId: string, bucket: number) {
    const key = `${bucket}/${channelId}`;
    if (this.knownBuckets.has(key)) return;
    await this.session.execute(this.q.index, [channelId, bucket], { idempotent: true });
    if (this.knownBuckets.size >= KNOWN_BUCKETS_MAX) this.knownBuckets.clear();
    this.knownBuckets.add(key);
  }
}

function queries(session: CqlSession) {
  const m = session.table('messages');
  const b = session.table('message_buckets');
  return {
    index: `INSERT INTO ${b} (channel_id, bucket) VALUES (?, ?)`,
    byClient: `INSERT INTO ${session.table('messages_by_client')} (sender_user_id, client_msg_id, channel_id, id) VALUES (?, ?, ?, ?)`,
    findByClient: `SELECT channel_id, id FROM ${session.table('messages_by_client')} WHERE sender_user_id = ? AND client_msg_id = ?`,
    insert:
      `INSERT INTO ${m} (channel_id, bucket, id, sender_user_id, sender_device_id, client_msg_id, body, sent_at_ms, kind, ` +
      `reply_to_id, target_id, emoji, reaction_removed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    change: `INSERT INTO ${session.table('message_changes')} (channel_id, id) VALUES (?, ?)`,
    countChanges: `SELECT COUNT(*) AS n FROM ${session.table('message_changes')} WHERE channel_id = ? AND id > ? AND id <= ?`,
    state: `SELECT edit_ids, deleted FROM ${m} WHERE channel_id = ? AND bucket = ? AND id = ?`,
    react: `UPDATE ${m} SET reactions = reactions + ?, last_change_id = ? WHERE channel_id = ? AND bucket = ? AND id = ?`,
    unreact: `UPDATE ${m} SET reactions = reactions - ?, last_change_id = ? WHERE channel_id = ? AND bucket = ? AND id = ?`,
    edit: `UPDATE ${m} SET body = ?, edited_at_ms = ?, edit_ids = edit_ids + ?, last_change_id = ? WHERE channel_id = ? AND bucket = ? AND id = ?`,
    addEditId: `UPDATE ${m} SET edit_ids = edit_ids + ? WHERE channel_id = ? AND bucket = ? AND id = ?`,
    erase: `UPDATE ${m} SET body = '', deleted = true, last_change_id = ? WHERE channel_id = ? AND bucket = ? AND id = ?`,
    eraseEntry: `UPDATE ${m} SET body = '' WHERE channel_id = ? AND bucket = ? AND id = ?`,
    get: `SELECT ${COLUMNS} FROM ${m} WHERE channel_id = ? AND bucket = ? AND id = ?`,
    bucketsDown: `SELECT bucket FROM ${b} WHERE channel_id = ? AND bucket <= ? LIMIT ${BUCKET_PAGE}`,
    bucketsUp: `SELECT bucket FROM ${b} WHERE channel_id = ? AND bucket >= ? ORDER BY bucket ASC LIMIT ${BUCKET_PAGE}`,
    newer: `SELECT ${COLUMNS} FROM ${m} WHERE channel_id = ? AND bucket = ? AND id > ? ORDER BY id ASC LIMIT ?`,
    older: `SELECT ${COLUMNS} FROM ${m} WHERE channel_id = ? AND bucket = ? AND id < ? LIMIT ?`,
    newest: `SELECT id FROM ${m} WHERE channel_id = ? AND bucket = ? LIMIT 1`,
  };
}

function toMessage(r: Row): Message {
  const m = baseMessage(r);
  if (r['reply_to_id'] != null) m.replyToId = num(r['reply_to_id']);
  const editIds = r['edit_ids'] as unknown[] | null;
  if (editIds?.length) {
    m.editCount = editIds.length;
    m.editedAtMs = num(r['edited_at_ms'] ?? 0);
  }
  if (r['deleted']) m.deleted = true;
  const reactions = r['reactions'] as string[] | null;
  if (reactions?.length) m.reactions = groupReactions(reactions);
  if (r['last_change_id'] != null) m.lastChangeId = num(r['last_change_id']);
  if (r['target_id'] != null) m.targetId = num(r['target_id']);
  if (r['emoji'] != null) m.emoji = r['emoji'];
  if (r['reaction_removed'] != null) m.reactionRemoved = r['reaction_removed'];
  return m;
}

/** "emoji NUL user" elements (sorted by the set) to one entry per emoji. */
function groupReactions(elements: string[]): Reaction[] {
  const by = new Map<string, string[]>();
  for (const e of elements) {
    const i = e.lastIndexOf(SEP);
    const emoji = e.slice(0, i);
    const users = by.get(emoji) ?? [];
    users.push(e.slice(i + 1));
    by.set(emoji, users);
  }
  return [...by].map(([emoji, userIds]) => ({ emoji, userIds }));
}

function baseMessage(r: Row): Message {
  return {
    channelId: r['channel_id'],
    id: num(r['id']),
    senderUserId: r['sender_user_id'],
    senderDeviceId: r['sender_device_id'],
    clientMsgId: r['client_msg_id'],
    body: r['body'],
    sentAtMs: num(r['sent_at_ms']),
    kind: r['kind'] as MessageKind,
  };
}
