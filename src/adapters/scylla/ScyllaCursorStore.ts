import type { Cursor } from '../../domain/model.js';
import type { CursorStore, MemberPointers } from '../../ports/CursorStore.js';
import { num, type CqlSession } from './CqlSession.js';
import { CursorWriteBehind } from './CursorWriteBehind.js';

/** Write-behind: 0 writes through (each call is one request); > 0 coalesces writes for at most this long. */
export interface CursorStoreOptions {
  writeBehindMs?: number;
  onError?: (e: unknown) => void;
  /** Read pointers this node remembers (so a send's pointer raise needs no read); oldest forgotten first. */
  knownPointers?: number;
}

/**
 * Delivery cursors per device and read pointers per user in
 * ScyllaDB/Cassandra (tables `delivered_cursors`, `read_pointers`), and per
 * channel each member's delivered and read pointers (`member_pointers`, for
 * receipts; each column its own max-register).
 *
 * Forward-only without a read-modify-write: every write carries
 * `USING TIMESTAMP <the pointer value>`. Cassandra and Scylla resolve
 * concurrent writes of a cell by the highest write timestamp, so the cell
 * always holds the largest value ever written, whatever order the writes
 * arrive in, on whatever replica: a max-register for the price of a plain
 * write (no Paxos, no read; the writes are idempotent and commutative, so the
 * driver may retry them). Compared with `UPDATE ... IF last_id < ?` this needs
 * one round trip instead of four (plus an insert for the first ack) and never
 * contends, which matters because acks are the most frequent write.
 *
 * Rule that keeps it correct: these tables are written only with such
 * timestamps (ids, far below the microsecond clock). A manual write with the
 * default clock timestamp would pin a cell forever; to reset a pointer, delete
 * with `USING TIMESTAMP` above every id ever written.
 *
 * With `writeBehindMs` > 0 (CHAT_CURSOR_WRITE_BEHIND_MS) the writes are
 * queued, coalesced per cell and written at most that long later, one request
 * per partition (CursorWriteBehind), and flushed by close(). Reads on this
 * node merge what is queued, so they stay exact here; other nodes see a raise
 * up to that delay later. markRead answers from memory (the highest pointer
 * this node wrote or read for the cell) and reads the stored pointer only the
 * first time it meets a cell, so the send path (which raises the sender's
 * pointer to the new message) makes no request of its own. A pointer raised
 * meanwhile by another node is not in that memory: the returned value (the
 * receipt's) may then lag the stored one, never the unread counts, which are
 * read from the store.
 */
export class ScyllaCursorStore implements CursorStore {
  private readonly q: ReturnType<typeof queries>;
  private readonly acks?: CursorWriteBehind;
  private readonly reads?: CursorWriteBehind;
  /** member_pointers (receipts): partition channel, cell user. */
  private readonly memberAcks?: CursorWriteBehind;
  private readonly memberReads?: CursorWriteBehind;
  /** Per user and channel: the highest read pointer this node wrote or read (write-behind only). */
  private readonly known = new Map<string, number>();
  private readonly knownMax: number;

  constructor(
    private readonly session: CqlSession,
    opts: CursorStoreOptions = {},
  ) {
    this.q = queries(session);
    this.knownMax = opts.knownPointers ?? 100_000;
    const ms = opts.writeBehindMs ?? 0;
    if (ms > 0) {
      const onError = opts.onError ?? (() => {});
      this.acks = new CursorWriteBehind(session, this.q.ack, ms, onError);
      this.reads = new CursorWriteBehind(session, this.q.markRead, ms, onError);
      this.memberAcks = new CursorWriteBehind(session, this.q.memberDelivered, ms, onError);
      this.memberReads = new CursorWriteBehind(session, this.q.memberRead, ms, onError);
    }
  }

  /**
   * One unlogged batch for the device's partition (a single request), and with it one
   * max-register write per channel to the member's pointer in `member_pointers`.
   */
  async ackDelivered(userId: string, deviceId: string, cursors: Cursor[]): Promise<void> {
    if (cursors.length === 0) return;
    if (this.acks) {
      const part = `${userId}\0${deviceId}`;
      for (const c of cursors) {
        this.acks.raise(part, c.channelId, c.lastMessageId, (v) => [v, v, userId, deviceId, c.channelId]);
        this.memberAcks!.raise(c.channelId, userId, c.lastMessageId, (v) => [v, v, c.channelId, userId]);
      }
      return;
    }
    const items = cursors.map((c) => ({ query: this.q.ack, params: [c.lastMessageId, c.lastMessageId, userId, deviceId, c.channelId] }));
    const members = cursors.map((c) =>
      this.session.execute(this.q.memberDelivered, [c.lastMessageId, c.lastMessageId, c.channelId, userId], { idempotent: true }),
    );
    if (items.length === 1) await Promise.all([this.session.execute(items[0]!.query, items[0]!.params, { idempotent: true }), ...members]);
    else await Promise.all([this.session.batch(items, { idempotent: true, logged: false }), ...members]);
  }

  /** One read of the channel's partition in `member_pointers`. */
  async memberPointers(channelId: string): Promise<Map<string, MemberPointers>> {
    const rows = await this.session.all(this.q.members, [channelId], { idempotent: true });
    const out = new Map(rows.map((r) => [r['user_id'] as string, { delivered: num(r['delivered'] ?? 0), read: num(r['read'] ?? 0) }]));
    // What this node queued and has not written yet (write-behind).
    for (const [field, wb] of [
      ['delivered', this.memberAcks],
      ['read', this.memberReads],
    ] as const) {
      for (const [userId, { value }] of wb?.queued(channelId) ?? []) {
        const p = out.get(userId) ?? { delivered: 0, read: 0 };
        p[field] = Math.max(p[field], value);
        out.set(userId, p);
      }
    }
    return out;
  }

  async delivered(userId: string, deviceId: string): Promise<Map<string, number>> {
    const rows = await this.session.all(this.q.delivered, [userId, deviceId], { idempotent: true });
    const out = new Map(rows.map((r) => [r['channel_id'] as string, num(r['last_id'])]));
    mergeQueued(out, this.acks?.queued(`${userId}\0${deviceId}`));
    return out;
  }

  /**
   * Write-through: writes, then reads the pointer back (the larger of the two,
   * since the stored value can only have grown past what this call wrote).
   * Write-behind: queues the raise and answers from memory (see the class).
   */
  async markRead(userId: string, channelId: string, messageId: number): Promise<number> {
    if (this.reads) {
      this.reads.raise(userId, channelId, messageId, (v) => [v, v, userId, channelId]);
      this.memberReads!.raise(channelId, userId, messageId, (v) => [v, v, channelId, userId]);
      const key = `${userId}\0${channelId}`;
      const known = this.known.get(key);
      if (known !== undefined) return this.remember(key, Math.max(known, messageId));
      const row = (await this.session.execute(this.q.readOne, [userId, channelId], { idempotent: true })).first();
      return this.remember(key, Math.max(messageId, row ? num(row['last_id']) : 0, this.known.get(key) ?? 0));
    }
    await Promise.all([
      this.session.execute(this.q.markRead, [messageId, messageId, userId, channelId], { idempotent: true }),
      this.session.execute(this.q.memberRead, [messageId, messageId, channelId, userId], { idempotent: true }),
    ]);
    const row = (await this.session.execute(this.q.readOne, [userId, channelId], { idempotent: true })).first();
    return Math.max(messageId, row ? num(row['last_id']) : 0);
  }

  /** One read of the user's partition (a user has one row per channel read), filtered to the asked channels. */
  async readPointers(userId: string, channelIds: string[]): Promise<Map<string, number>> {
    if (channelIds.length === 0) return new Map();
    const rows = await this.session.all(this.q.readAll, [userId], { idempotent: true });
    const stored = new Map(rows.map((r) => [r['channel_id'] as string, num(r['last_id'])]));
    mergeQueued(stored, this.reads?.queued(userId));
    return new Map(channelIds.map((c) => [c, stored.get(c) ?? 0]));
  }

  /** Writes every queued raise (shutdown); a no-op when writing through. */
  async flush(): Promise<void> {
    await Promise.all([this.acks?.drain(), this.reads?.drain(), this.memberAcks?.drain(), this.memberReads?.drain()]);
  }

  private remember(key: string, v: number): number {
    this.known.delete(key);
    this.known.set(key, v);
    if (this.known.size > this.knownMax) this.known.delete(this.known.keys().next().value!);
    return v;
  }
}

function mergeQueued(into: Map<string, number>, queued: ReadonlyMap<string, { value: number }> | undefined) {
  if (queued) for (const [c, { value }] of queued) if (value > (into.get(c) ?? 0)) into.set(c, value);
}

function queries(session: CqlSession) {
  const d = session.table('delivered_cursors');
  const r = session.table('read_pointers');
  const mp = session.table('member_pointers');
  return {
    memberDelivered: `UPDATE ${mp} USING TIMESTAMP ? SET delivered = ? WHERE channel_id = ? AND user_id = ?`,
    memberRead: `UPDATE ${mp} USING TIMESTAMP ? SET read = ? WHERE channel_id = ? AND user_id = ?`,
    members: `SELECT user_id, delivered, read FROM ${mp} WHERE channel_id = ?`,
    ack: `UPDATE ${d} USING TIMESTAMP ? SET last_id = ? WHERE user_id = ? AND device_id = ? AND channel_id = ?`,
    delivered: `SELECT channel_id, last_id FROM ${d} WHERE user_id = ? AND device_id = ?`,
    markRead: `UPDATE ${r} USING TIMESTAMP ? SET last_id = ? WHERE user_id = ? AND channel_id = ?`,
    readOne: `SELECT last_id FROM ${r} WHERE user_id = ? AND channel_id = ?`,
    readAll: `SELECT channel_id, last_id FROM ${r} WHERE user_id = ?`,
  };
}
