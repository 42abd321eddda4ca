import type { IdRange, SkippedIds } from '../../ports/SkippedIds.js';
import { num, type CqlSession } from './CqlSession.js';

/** Ranges read per `between`; a channel gains one per Redis data loss, so a page is plenty. */
const PAGE = 100;

/**
 * Skipped id ranges in the `skipped_ids` table: one partition per channel,
 * clustered by the range's last id, so "ranges ending after my cursor" is one
 * single-partition slice. Rows are plain idempotent inserts.
 */
export class ScyllaSkippedIds implements SkippedIds {
  private readonly insert: string;
  private readonly select: string;

  constructor(private readonly session: CqlSession) {
    const t = session.table('skipped_ids');
    this.insert = `INSERT INTO ${t} (channel_id, to_id, from_id) VALUES (?, ?, ?)`;
    this.select = `SELECT from_id, to_id FROM ${t} WHERE channel_id = ? AND to_id > ? LIMIT ${PAGE}`;
  }

  async record(channelId: string, range: IdRange) {
    await this.session.execute(this.insert, [channelId, range.toId, range.fromId], { idempotent: true });
  }

  async between(channelId: string, afterId: number, beforeId: number) {
    const rs = await this.session.execute(this.select, [channelId, afterId], { idempotent: true });
    return rs.rows.map((r) => ({ fromId: num(r['from_id']), toId: num(r['to_id']) })).filter((r) => r.fromId + 1 < beforeId);
  }
}
