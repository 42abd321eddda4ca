import type { Cursor } from '../../domain/model.js';
import type { CursorStore, MemberPointers } from '../../ports/CursorStore.js';
import { num, type CqlSession } from './CqlSession.js';

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
 */
export class ScyllaCursorStore implements CursorStore {
  private readonly q: ReturnType<typeof queries>;

  constructor(private readonly session: CqlSession) {
    this.q = queries(session);
  }

  /**
   * One unlogged batch for the device's partition (a single request), and with it one
   * max-register write per channel to the member's pointer in `member_pointers`.
   */
  async ackDelivered(userId: string, deviceId: string, cursors: Cursor[]): Promise<void> {
    if (cursors.length === 0) return;
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
    return new Map(rows.map((r) => [r['user_id'] as string, { delivered: num(r['delivered'] ?? 0), read: num(r['read'] ?? 0) }]));
  }

  async delivered(userId: string, deviceId: string): Promise<Map<string, number>> {
    const rows = await this.session.all(this.q.delivered, [userId, deviceId], { idempotent: true });
    return new Map(rows.map((r) => [r['channel_id'] as string, num(r['last_id'])]));
  }

  /**
   * Writes, then reads the pointer back: the result is the larger of the two,
   * since the stored value can only have grown past what this call wrote.
   */
  async markRead(userId: string, channelId: string, messageId: number): Promise<number> {
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
    return new Map(channelIds.map((c) => [c, stored.get(c) ?? 0]));
  }
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
