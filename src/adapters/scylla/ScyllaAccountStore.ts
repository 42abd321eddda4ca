import { DomainError } from '../../domain/errors.js';
import type { Account, DeviceRecord, DeviceSession } from '../../domain/model.js';
import type { AccountStore } from '../../ports/AccountStore.js';
import { num, type CqlSession, type Row } from './CqlSession.js';

/**
 * Accounts and devices in ScyllaDB/Cassandra (tables `accounts`,
 * `account_names`, `devices`, see migrate.ts).
 *
 * Name uniqueness: the lower-cased user name is claimed in `account_names`
 * with `INSERT ... IF NOT EXISTS`, a Paxos round, so exactly one of two racing
 * creates wins, on any number of nodes. The account row (by id) is written
 * before the claim: until the claim succeeds nobody knows the new user id,
 * so a row left behind by a lost race or a crash is unreachable, whereas the
 * opposite order could leave a claimed name pointing at no account. A lost
 * race also deletes its row. A claim that is found already held by the same
 * user id (a retried create whose first attempt did land) succeeds.
 *
 * Devices: `IF NOT EXISTS` too, which is what tells `created` apart from a
 * repeat (logins are rare, so the Paxos cost is irrelevant).
 *
 * Sessions (`device_sessions`): login and revocation write the row; a
 * refresh rotates the hash with `IF refresh_hash = ?`, so one refresh token
 * is honoured exactly once even when two nodes see it at the same moment.
 */
export class ScyllaAccountStore implements AccountStore {
  private readonly q: ReturnType<typeof queries>;

  constructor(private readonly cql: CqlSession) {
    this.q = queries(cql);
  }

  async create(account: Account): Promise<void> {
    const p = [account.userId, account.userName, account.passwordHash, account.createdAtMs];
    await this.cql.execute(this.q.insertAccount, p, { idempotent: true });
    const rs = await this.cql.execute(this.q.claimName, [account.userName.toLowerCase(), account.userId], { idempotent: false });
    if (rs.wasApplied() || rs.first()?.['user_id'] === account.userId) return;
    await this.cql.execute(this.q.deleteAccount, [account.userId], { idempotent: true }).catch(() => {});
    throw new DomainError('already_exists', `user name "${account.userName}" is taken`);
  }

  async byName(userName: string): Promise<Account | undefined> {
    const claim = (await this.cql.execute(this.q.byName, [userName.toLowerCase()], { idempotent: true })).first();
    return claim ? this.byId(claim['user_id']) : undefined;
  }

  async byId(userId: string): Promise<Account | undefined> {
    const row = (await this.cql.execute(this.q.byId, [userId], { idempotent: true })).first();
    return row ? toAccount(row) : undefined;
  }

  async addDevice(device: DeviceRecord): Promise<{ created: boolean }> {
    const rs = await this.cql.execute(this.q.addDevice, [device.userId, device.deviceId, device.createdAtMs], { idempotent: false });
    return { created: rs.wasApplied() };
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    const rows = await this.cql.all(this.q.devices, [userId], { idempotent: true });
    return rows.map((r) => ({ userId, deviceId: r['device_id'], createdAtMs: num(r['created_at_ms']) }));
  }

  async removeDevice(userId: string, deviceId: string) {
    await this.cql.execute(this.q.removeDevice, [userId, deviceId], { idempotent: true });
  }

  async session(userId: string, deviceId: string): Promise<DeviceSession | undefined> {
    const r = (await this.cql.execute(this.q.getSession, [userId, deviceId], { idempotent: true })).first();
    if (!r) return undefined;
    return {
      userId,
      deviceId,
      gen: num(r['gen']),
      refreshHash: r['refresh_hash'] ?? undefined,
      refreshExpiresAtMs: num(r['refresh_expires_at_ms']),
      usedHashes: r['used_hashes'] ?? [],
    };
  }

  async saveSession(s: DeviceSession) {
    const p = [s.gen, s.refreshHash ?? null, s.refreshExpiresAtMs, s.usedHashes, s.userId, s.deviceId];
    await this.cql.execute(this.q.saveSession, p, { idempotent: true });
  }

  async rotateRefresh(userId: string, deviceId: string, oldHash: string, newHash: string, expiresAtMs: number, keepUsed: number) {
    const cur = await this.session(userId, deviceId);
    if (cur?.refreshHash !== oldHash) return false;
    const used = [oldHash, ...cur.usedHashes].slice(0, keepUsed);
    const rs = await this.cql.execute(this.q.rotate, [newHash, expiresAtMs, used, userId, deviceId, oldHash], { idempotent: false });
    return rs.wasApplied();
  }

  async setPassword(userId: string, passwordHash: string) {
    await this.cql.execute(this.q.setPassword, [passwordHash, userId], { idempotent: true });
  }

  async delete(account: Account) {
    const id = [account.userId];
    // The name first: once it is free the account is unreachable by name; the rows by id go after.
    await this.cql.execute(this.q.freeName, [account.userName.toLowerCase(), account.userId], { idempotent: false });
    await Promise.all([this.cql.execute(this.q.deleteSessions, id, { idempotent: true }), this.cql.execute(this.q.deleteDevices, id, { idempotent: true })]);
    await this.cql.execute(this.q.deleteAccount, id, { idempotent: true });
  }
}

function queries(session: CqlSession) {
  const a = session.table('accounts');
  const n = session.table('account_names');
  const d = session.table('devices');
  const ds = session.table('device_sessions');
  return {
    removeDevice: `DELETE FROM ${d} WHERE user_id = ? AND device_id = ?`,
    deleteDevices: `DELETE FROM ${d} WHERE user_id = ?`,
    getSession: `SELECT gen, refresh_hash, refresh_expires_at_ms, used_hashes FROM ${ds} WHERE user_id = ? AND device_id = ?`,
    saveSession: `UPDATE ${ds} SET gen = ?, refresh_hash = ?, refresh_expires_at_ms = ?, used_hashes = ? WHERE user_id = ? AND device_id = ?`,
    rotate: `UPDATE ${ds} SET refresh_hash = ?, refresh_expires_at_ms = ?, used_hashes = ? WHERE user_id = ? AND device_id = ? IF refresh_hash = ?`,
    deleteSessions: `DELETE FROM ${ds} WHERE user_id = ?`,
    setPassword: `UPDATE ${a} SET password_hash = ? WHERE user_id = ?`,
    freeName: `DELETE FROM ${n} WHERE name_lc = ? IF user_id = ?`,
    insertAccount: `INSERT INTO ${a} (user_id, user_name, password_hash, created_at_ms) VALUES (?, ?, ?, ?)`,
    deleteAccount: `DELETE FROM ${a} WHERE user_id = ?`,
    claimName: `INSERT INTO ${n} (name_lc, user_id) VALUES (?, ?) IF NOT EXISTS`,
    byName: `SELECT user_id FROM ${n} WHERE name_lc = ?`,
    byId: `SELECT user_id, user_name, password_hash, created_at_ms FROM ${a} WHERE user_id = ?`,
    addDevice: `INSERT INTO ${d} (user_id, device_id, created_at_ms) VALUES (?, ?, ?) IF NOT EXISTS`,
    devices: `SELECT device_id, created_at_ms FROM ${d} WHERE user_id = ?`,
  };
}

function toAccount(r: Row): Account {
  return { userId: r['user_id'], userName: r['user_name'], passwordHash: r['password_hash'], createdAtMs: num(r['created_at_ms']) };
}
