import { DomainError, notFound } from '../../domain/errors.js';
import type { Channel, ChannelKind, Member, Role } from '../../domain/model.js';
import { checkCapacity } from '../../domain/rules.js';
import type { ChannelStore } from '../../ports/ChannelStore.js';
import { num, type BatchItem, type CqlSession } from './CqlSession.js';

/** Compare-and-set attempts per membership change before giving up with `aborted`. */
const MAX_ATTEMPTS = 16;

interface Stored {
  channel: Channel;
  version: number;
}

/**
 * Channels and members in ScyllaDB/Cassandra (tables `channels` and
 * `user_channels`, see migrate.ts).
 *
 * Atomicity: a channel is one partition: its fields and a `version` are
 * static columns, each member is a clustering row. Every membership change
 * (create, add, remove, role) is ONE conditional batch on that partition,
 * `UPDATE ... SET version = v+1 ... IF version = v` plus the member rows, so
 * it is all-or-nothing, isolated and linearizable (one Paxos round). The cap
 * is checked against the member set read at version v; if anyone changed the
 * channel meanwhile the condition fails and the change is recomputed from a
 * fresh (serial) read. Two racing adds therefore can never exceed the cap,
 * and re-adding a present member never counts twice. `member_count` mirrors
 * the number of rows for cheap inspection.
 *
 * The user -> channels index is a second partition (per user), so it cannot
 * be in the same transaction. It is written with USING TIMESTAMP derived from
 * the channel version: an insert made by the change that produced version V
 * gets 2V+1, a delete 2V. Whatever order the index writes land in, the one
 * of the newest membership change wins, so a racing add and remove of the same
 * user cannot leave the index saying "member" after the removal. Deletes are
 * written before the removal's transaction and inserts after the addition's,
 * so the index never lists a channel the user is not in (core treats
 * `channelsOf` as authorization for replay); if a failure strikes between the
 * two steps the call rejects (`unavailable`) and repeating it repairs the
 * index, since every add/create also re-writes the index of the users it
 * names.
 */
export class ScyllaChannelStore implements ChannelStore {
  private readonly q: ReturnType<typeof queries>;

  constructor(private readonly session: CqlSession) {
    this.q = queries(session);
  }

  /** Creates a channel; a repeat of the same create succeeds, another channel with the id is `already_exists`. */
  async create(channel: Channel): Promise<void> {
    const ch = normalized(channel);
    if (await this.insert(ch)) return;
    const stored = await this.read(ch.id, true);
    if (!stored || stored.channel.kind !== ch.kind || stored.channel.title !== ch.title || stored.channel.createdAtMs !== ch.createdAtMs) {
      throw new DomainError('already_exists', `channel ${ch.id} already exists`);
    }
    await this.index(
      stored.channel.members.map((m) => m.userId),
      ch.id,
      2 * stored.version + 1,
    );
  }

  async createDirect(channel: Channel): Promise<Channel> {
    const ch = normalized(channel);
    if (await this.insert(ch)) return ch;
    const stored = await this.read(ch.id, true);
    if (!stored) throw new DomainError('unavailable', `channel ${ch.id} could not be read back; retry`);
    await this.index(
      stored.channel.members.map((m) => m.userId),
      ch.id,
      2 * stored.version + 1,
    );
    return stored.channel;
  }

  async get(channelId: string): Promise<Channel | undefined> {
    return (await this.read(channelId, false))?.channel;
  }

  async addMembers(channelId: string, members: Member[], maxMembers: number): Promise<Channel> {
    const wanted = dedupe(members);
    return this.change(channelId, async (s) => {
      if (!s) throw notFound(`channel ${channelId} does not exist`);
      const present = new Set(s.channel.members.map((m) => m.userId));
      const fresh = wanted.filter((m) => !present.has(m.userId));
      checkCapacity(s.channel.members.length, fresh.length, { maxGroupMembers: maxMembers, maxBodyBytes: 0 });
      const after = { ...s.channel, members: [...s.channel.members, ...fresh.map((m) => ({ ...m }))] };
      const heal = () =>
        this.index(
          wanted.map((m) => m.userId),
          channelId,
          2 * s.version + 1,
        );
      if (fresh.length === 0) return { done: true, result: after, after: heal };
      const v = s.version + 1;
      const rows = fresh.map((m, i): BatchItem => ({ query: this.q.addMember, params: [channelId, m.userId, m.role, v, i] }));
      return {
        cas: [this.bump(channelId, s, after.members.length), ...rows],
        result: after,
        after: () =>
          this.index(
            wanted.map((m) => m.userId),
            channelId,
            2 * v + 1,
          ),
      };
    });
  }

  async removeMember(channelId: string, userId: string): Promise<boolean> {
    return this.change(channelId, async (s) => {
      if (!s) return { done: true, result: false };
      const v = s.version + 1;
      // Index first: it must never list a channel the user is not in.
      await this.session.execute(this.q.unindex, [2 * v, userId, channelId], { idempotent: true });
      if (!s.channel.members.some((m) => m.userId === userId)) return { done: true, result: false };
      return {
        cas: [this.bump(channelId, s, s.channel.members.length - 1), { query: this.q.removeMember, params: [channelId, userId] }],
        result: true,
      };
    });
  }

  async setRole(channelId: string, userId: string, role: Role): Promise<void> {
    await this.change(channelId, async (s) => {
      const m = s?.channel.members.find((x) => x.userId === userId);
      if (!s || !m || m.role === role) return { done: true, result: undefined };
      return { cas: [this.bump(channelId, s, s.channel.members.length), { query: this.q.setRole, params: [role, channelId, userId] }], result: undefined };
    });
  }

  async channelsOf(userId: string): Promise<string[]> {
    const rows = await this.session.all(this.q.channelsOf, [userId], { idempotent: true });
    return rows.map((r) => r['channel_id'] as string);
  }

  /**
   * Optimistic concurrency: read (serially after a lost race), let `plan`
   * decide, apply its batch if the version is still the one read, repeat.
   */
  private async change<T>(
    channelId: string,
    plan: (
      s: Stored | undefined,
    ) => Promise<{ done: true; result: T; after?: () => Promise<void> } | { done?: false; cas: BatchItem[]; result: T; after?: () => Promise<void> }>,
  ): Promise<T> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const p = await plan(await this.read(channelId, attempt > 0));
      if (!p.done) {
        const rs = await this.session.batch(p.cas, { idempotent: false, logged: true });
        if (!rs.wasApplied()) {
          await sleep(Math.random() * 5 * (attempt + 1));
          continue;
        }
      }
      await p.after?.();
      return p.result;
    }
    throw new DomainError('aborted', `channel ${channelId} is being changed concurrently; retry`);
  }

  /** The version bump that guards a change; fails the batch if anyone moved the channel since `s`. */
  private bump(channelId: string, s: Stored, memberCount: number): BatchItem {
    return { query: this.q.bump, params: [s.version + 1, memberCount, channelId, s.version] };
  }

  /** Inserts channel and members at version 1 if the channel does not exist; true if it did not. */
  private async insert(ch: Channel): Promise<boolean> {
    const rs = await this.session.batch(
      [
        { query: this.q.insert, params: [ch.id, ch.kind, ch.title, ch.createdAtMs, 1, ch.members.length] },
        ...ch.members.map((m, i): BatchItem => ({ query: this.q.addMember, params: [ch.id, m.userId, m.role, 1, i] })),
      ],
      { idempotent: false, logged: true },
    );
    if (!rs.wasApplied()) return false;
    await this.index(
      ch.members.map((m) => m.userId),
      ch.id,
      2 * 1 + 1,
    );
    return true;
  }

  private async index(userIds: string[], channelId: string, timestamp: number) {
    await Promise.all(userIds.map((u) => this.session.execute(this.q.index, [u, channelId, timestamp], { idempotent: true })));
  }

  private async read(channelId: string, serial: boolean): Promise<Stored | undefined> {
    const rows = await this.session.all(this.q.read, [channelId], { idempotent: true, serialRead: serial });
    const head = rows[0];
    if (!head || head['kind'] === null) return undefined;
    const members = rows
      .filter((r) => r['user_id'] !== null)
      .map((r) => ({ userId: r['user_id'] as string, role: r['role'] as Role, order: [num(r['joined_version']), num(r['joined_index'])] as const }))
      .sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1])
      .map(({ userId, role }): Member => ({ userId, role }));
    return {
      version: num(head['version']),
      channel: { id: channelId, kind: head['kind'] as ChannelKind, title: head['title'] ?? '', createdAtMs: num(head['created_at_ms']), members },
    };
  }
}

function queries(session: CqlSession) {
  const c = session.table('channels');
  const u = session.table('user_channels');
  return {
    read: `SELECT kind, title, created_at_ms, version, user_id, role, joined_version, joined_index FROM ${c} WHERE id = ?`,
    insert: `INSERT INTO ${c} (id, kind, title, created_at_ms, version, member_count) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
    addMember: `INSERT INTO ${c} (id, user_id, role, joined_version, joined_index) VALUES (?, ?, ?, ?, ?)`,
    removeMember: `DELETE FROM ${c} WHERE id = ? AND user_id = ?`,
    setRole: `UPDATE ${c} SET role = ? WHERE id = ? AND user_id = ?`,
    bump: `UPDATE ${c} SET version = ?, member_count = ? WHERE id = ? IF version = ?`,
    index: `INSERT INTO ${u} (user_id, channel_id) VALUES (?, ?) USING TIMESTAMP ?`,
    unindex: `DELETE FROM ${u} USING TIMESTAMP ? WHERE user_id = ? AND channel_id = ?`,
    channelsOf: `SELECT channel_id FROM ${u} WHERE user_id = ?`,
  };
}

/** First occurrence of each user wins, as in the in-memory store. */
function dedupe(members: Member[]): Member[] {
  const seen = new Set<string>();
  return members.filter((m) => !seen.has(m.userId) && seen.add(m.userId)).map((m) => ({ ...m }));
}

const normalized = (c: Channel): Channel => ({ id: c.id, kind: c.kind, title: c.title, createdAtMs: c.createdAtMs, members: dedupe(c.members) });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
