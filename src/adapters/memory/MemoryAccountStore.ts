import { DomainError } from '../../domain/errors.js';
import type { Account, DeviceRecord, DeviceSession } from '../../domain/model.js';
import type { AccountStore } from '../../ports/AccountStore.js';

/** Accounts in process memory: the embedded default. Lost on restart. */
export class MemoryAccountStore implements AccountStore {
  private readonly byUserName = new Map<string, Account>();
  private readonly byUserId = new Map<string, Account>();
  private readonly devices = new Map<string, Map<string, DeviceRecord>>();
  private readonly sessions = new Map<string, DeviceSession>();

  async create(account: Account): Promise<void> {
    const key = account.userName.toLowerCase();
    if (this.byUserName.has(key)) throw new DomainError('already_exists', `user name "${account.userName}" is taken`);
    this.byUserName.set(key, account);
    this.byUserId.set(account.userId, account);
  }

  async byName(userName: string) {
    return this.byUserName.get(userName.toLowerCase());
  }

  async byId(userId: string) {
    return this.byUserId.get(userId);
  }

  async addDevice(device: DeviceRecord) {
    let mine = this.devices.get(device.userId);
    if (!mine) this.devices.set(device.userId, (mine = new Map()));
    if (mine.has(device.deviceId)) return { created: false };
    mine.set(device.deviceId, device);
    return { created: true };
  }

  async listDevices(userId: string) {
    return [...(this.devices.get(userId)?.values() ?? [])];
  }

  async removeDevice(userId: string, deviceId: string) {
    this.devices.get(userId)?.delete(deviceId);
  }

  async session(userId: string, deviceId: string) {
    const s = this.sessions.get(`${userId}/${deviceId}`);
    return s && { ...s, usedHashes: [...s.usedHashes] };
  }

  async saveSession(session: DeviceSession) {
    this.sessions.set(`${session.userId}/${session.deviceId}`, { ...session, usedHashes: [...session.usedHashes] });
  }

  async rotateRefresh(userId: string, deviceId: string, oldHash: string, newHash: string, expiresAtMs: number, keepUsed: number) {
    const s = this.sessions.get(`${userId}/${deviceId}`);
    if (!s || s.refreshHash !== oldHash) return false;
    s.refreshHash = newHash;
    s.refreshExpiresAtMs = expiresAtMs;
    s.usedHashes = [oldHash, ...s.usedHashes].slice(0, keepUsed);
    return true;
  }

  async setPassword(userId: string, passwordHash: string) {
    const a = this.byUserId.get(userId);
    if (!a) return;
    const next = { ...a, passwordHash };
    this.byUserId.set(userId, next);
    this.byUserName.set(a.userName.toLowerCase(), next);
  }

  async delete(account: Account) {
    this.byUserId.delete(account.userId);
    const key = account.userName.toLowerCase();
    if (this.byUserName.get(key)?.userId === account.userId) this.byUserName.delete(key);
    this.devices.delete(account.userId);
    for (const k of [...this.sessions.keys()]) if (k.startsWith(`${account.userId}/`)) this.sessions.delete(k);
  }
}
