import { DomainError } from '../../domain/errors.js';
import type { Message, MessageKind } from '../../domain/model.js';
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

const COLUMNS = 'channel_id, id, sender_user_id, sender_device_id, client_msg_id, body, sent_at_ms, kind';

/**
 * Channel history in ScyllaDB/Cassandra (tables `messages`,
 * `messages_by_client` and `message_buckets`, see migrate.ts).
 *
 * Write path: the bucket is recorded in the per-channel bucket index and the
 * (sender, client_msg_id) -> id pointer in `messages_by_client` first (plain
 * idempotent writes, in parallel), then the message is inserted with
 * `IF NOT EXISTS`. Index-before-row means a stored message is always
 * reachable through both; a bucket whose message write failed is merely
 * empty and is skipped by readers, and a pointer whose append failed (or lost
 * its id to another message) is rejected by `findByClientMsgId`, which
 * checks sender and client_msg_id of the row it points at.
 *
 * Why a lightweight transaction: the port promises that an append never
 * overwrites a different message with the same id, which a plain INSERT
 * (last write wins) cannot promise if the sequencer ever re-issues an id.
 * When the row exists, the existing sender + client_msg_id decide: the same
 * message is an idempotent success, another one is `aborted`. The cost is a
 * Paxos round (four round trips to the replicas instead of one, and LWT
 * contention handling); acceptable for now, to be revisited by the
 * benchmark issue (e.g. a plain write guarded by an epoch in the sequencer).
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

  /** Durable at the configured consistency when it resolves; see the class comment for the id guard. */
  async append(message: Message): Promise<void> {
    const bucket = this.bucketOf(message.id);
    await Promise.all([
      this.ensureIndexed(message.channelId, bucket),
      message.clientMsgId
        ? this.session.execute(this.q.byClient, [message.senderUserId, message.clientMsgId, message.channelId, message.id], { idempotent: true })
        : undefined,
    ]);
    const rs = await this.session.execute(
      this.q.insert,
      [
        message.channelId,
        bucket,
        message.id,
        message.senderUserId,
        message.senderDeviceId,
        message.clientMsgId,
        message.body,
        message.sentAtMs,
        message.kind,
      ],
      { idempotent: false },
    );
    if (rs.wasApplied()) return;
    const existing = rs.first();
    if (existing && existing['sender_user_id'] === message.senderUserId && existing['client_msg_id'] === message.clientMsgId) return;
    throw new DomainError('aborted', `message id ${message.id} is already taken in ${message.channelId}`);
  }

  /**
   * Via `messages_by_client`, written before the message row: a pointer whose
   * row is missing means that attempt never stored its message.
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
      `INSERT INTO ${m} (channel_id, bucket, id, sender_user_id, sender_device_id, client_msg_id, body, sent_at_ms, kind) ` +
      `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
    get: `SELECT ${COLUMNS} FROM ${m} WHERE channel_id = ? AND bucket = ? AND id = ?`,
    bucketsDown: `SELECT bucket FROM ${b} WHERE channel_id = ? AND bucket <= ? LIMIT ${BUCKET_PAGE}`,
    bucketsUp: `SELECT bucket FROM ${b} WHERE channel_id = ? AND bucket >= ? ORDER BY bucket ASC LIMIT ${BUCKET_PAGE}`,
    newer: `SELECT ${COLUMNS} FROM ${m} WHERE channel_id = ? AND bucket = ? AND id > ? ORDER BY id ASC LIMIT ?`,
    older: `SELECT ${COLUMNS} FROM ${m} WHERE channel_id = ? AND bucket = ? AND id < ? LIMIT ?`,
    newest: `SELECT id FROM ${m} WHERE channel_id = ? AND bucket = ? LIMIT 1`,
  };
}

function toMessage(r: Row): Message {
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
