import { DomainError } from '../../domain/errors.js';
import type { Account, DeviceRecord } from '../../domain/model.js';
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
 */
export class ScyllaAccountStore implements AccountStore {
  private readonly q: ReturnType<typeof queries>;

  constructor(private readonly session: CqlSession) {
    this.q = queries(session);
  }

  async create(account: Account): Promise<void> {
    const p = [account.userId, account.userName, account.passwordHash, account.createdAtMs];
    await this.session.execute(this.q.insertAccount, p, { idempotent: true });
    const rs = await this.session.execute(this.q.claimName, [account.userName.toLowerCase(), account.userId], { idempotent: false });
    if (rs.wasApplied() || rs.first()?.['user_id'] === account.userId) return;
    await this.session.execute(this.q.deleteAccount, [account.userId], { idempotent: true }).catch(() => {});
    throw new DomainError('already_exists', `user name "${account.userName}" is taken`);
  }

  async byName(userName: string): Promise<Account | undefined> {
    const claim = (await this.session.execute(this.q.byName, [userName.toLowerCase()], { idempotent: true })).first();
    return claim ? this.byId(claim['user_id']) : undefined;
  }

  async byId(userId: string): Promise<Account | undefined> {
    const row = (await this.session.execute(this.q.byId, [userId], { idempotent: true })).first();
    return row ? toAccount(row) : undefined;
  }

  async addDevice(device: DeviceRecord): Promise<{ created: boolean }> {
    const rs = await this.session.execute(this.q.addDevice, [device.userId, device.deviceId, device.createdAtMs], { idempotent: false });
    return { created: rs.wasApplied() };
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    const rows = await this.session.all(this.q.devices, [userId], { idempotent: true });
    return rows.map((r) => ({ userId, deviceId: r['device_id'], createdAtMs: num(r['created_at_ms']) }));
  }
}

function queries(session: CqlSession) {
  const a = session.table('accounts');
  const n = session.table('account_names');
  const d = session.table('devices');
  return {
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
