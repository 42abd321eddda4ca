import type { BlockLists, Invitation, SafetyStore } from '../../ports/SafetyStore.js';
import { oldestFirst } from '../memory/MemorySafetyStore.js';
import { num, type CqlSession } from './CqlSession.js';

/**
 * Blocks, invitations and mutes in ScyllaDB/Cassandra. `blocks` is
 * partitioned by the blocker and `blocks_by_blocked` by the blocked user, so
 * both directions of one user are two single-partition reads; the two rows of
 * a block are written in one logged batch (both or neither). `invitations`
 * and `mutes` are partitioned by the user they belong to. Every write is a
 * plain idempotent insert or delete (retried by the driver).
 */
export class ScyllaSafetyStore implements SafetyStore {
  private readonly q: ReturnType<typeof queries>;

  constructor(private readonly session: CqlSession) {
    this.q = queries(session);
  }

  async block(blocker: string, target: string, atMs: number) {
    const items = [
      { query: this.q.block, params: [blocker, target, atMs] },
      { query: this.q.blockRev, params: [target, blocker] },
    ];
    await this.session.batch(items, { idempotent: true, logged: true });
  }

  async unblock(blocker: string, target: string) {
    const had = (await this.session.execute(this.q.blockOne, [blocker, target], { idempotent: true })).rowLength > 0;
    const items = [
      { query: this.q.unblock, params: [blocker, target] },
      { query: this.q.unblockRev, params: [target, blocker] },
    ];
    await this.session.batch(items, { idempotent: true, logged: true });
    return had;
  }

  async blocks(userId: string): Promise<BlockLists> {
    const [out, inn] = await Promise.all([
      this.session.all(this.q.blocked, [userId], { idempotent: true }),
      this.session.all(this.q.blockers, [userId], { idempotent: true }),
    ]);
    return {
      blocked: out.map((r) => ({ userId: r['blocked'] as string, atMs: num(r['at_ms']) })),
      blockers: inn.map((r) => r['blocker'] as string),
    };
  }

  async invite(inv: Invitation, maxPending: number) {
    await this.session.execute(this.q.invite, [inv.inviteeUserId, inv.channelId, inv.inviterUserId, inv.createdAtMs], { idempotent: true });
    const all = await this.invitations(inv.inviteeUserId);
    const dropped = all.slice(0, Math.max(0, all.length - maxPending));
    await Promise.all(dropped.map((d) => this.session.execute(this.q.uninvite, [d.inviteeUserId, d.channelId], { idempotent: true })));
    return dropped;
  }

  async invitations(invitee: string) {
    const rows = await this.session.all(this.q.invitations, [invitee], { idempotent: true });
    return oldestFirst(
      rows.map((r) => ({
        channelId: r['channel_id'] as string,
        inviteeUserId: invitee,
        inviterUserId: r['inviter_user_id'] as string,
        createdAtMs: num(r['created_at_ms']),
      })),
    );
  }

  async takeInvitation(invitee: string, channelId: string) {
    const row = (await this.session.execute(this.q.invitationOne, [invitee, channelId], { idempotent: true })).first();
    if (!row) return undefined;
    await this.session.execute(this.q.uninvite, [invitee, channelId], { idempotent: true });
    return { channelId, inviteeUserId: invitee, inviterUserId: row['inviter_user_id'] as string, createdAtMs: num(row['created_at_ms']) };
  }

  async mute(userId: string, channelId: string, untilMs: number) {
    if (untilMs > 0) await this.session.execute(this.q.mute, [userId, channelId, untilMs], { idempotent: true });
    else await this.session.execute(this.q.unmute, [userId, channelId], { idempotent: true });
  }

  async mutes(userId: string, nowMs: number) {
    const rows = await this.session.all(this.q.mutes, [userId], { idempotent: true });
    return new Map(rows.map((r) => [r['channel_id'] as string, num(r['until_ms'])] as const).filter(([, until]) => until > nowMs));
  }
}

function queries(s: CqlSession) {
  const b = s.table('blocks');
  const br = s.table('blocks_by_blocked');
  const inv = s.table('invitations');
  const m = s.table('mutes');
  return {
    block: `INSERT INTO ${b} (blocker, blocked, at_ms) VALUES (?, ?, ?)`,
    blockRev: `INSERT INTO ${br} (blocked, blocker) VALUES (?, ?)`,
    blockOne: `SELECT blocked FROM ${b} WHERE blocker = ? AND blocked = ?`,
    unblock: `DELETE FROM ${b} WHERE blocker = ? AND blocked = ?`,
    unblockRev: `DELETE FROM ${br} WHERE blocked = ? AND blocker = ?`,
    blocked: `SELECT blocked, at_ms FROM ${b} WHERE blocker = ?`,
    blockers: `SELECT blocker FROM ${br} WHERE blocked = ?`,
    invite: `INSERT INTO ${inv} (invitee_user_id, channel_id, inviter_user_id, created_at_ms) VALUES (?, ?, ?, ?)`,
    uninvite: `DELETE FROM ${inv} WHERE invitee_user_id = ? AND channel_id = ?`,
    invitations: `SELECT channel_id, inviter_user_id, created_at_ms FROM ${inv} WHERE invitee_user_id = ?`,
    invitationOne: `SELECT inviter_user_id, created_at_ms FROM ${inv} WHERE invitee_user_id = ? AND channel_id = ?`,
    mute: `INSERT INTO ${m} (user_id, channel_id, until_ms) VALUES (?, ?, ?)`,
    unmute: `DELETE FROM ${m} WHERE user_id = ? AND channel_id = ?`,
    mutes: `SELECT channel_id, until_ms FROM ${m} WHERE user_id = ?`,
  };
}
