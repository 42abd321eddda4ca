import { DomainError } from '../../domain/errors.js';
import type { Account, DeviceRecord } from '../../domain/model.js';
import type { AccountStore } from '../../ports/AccountStore.js';

/** Accounts in process memory: the embedded default. Lost on restart. */
export class MemoryAccountStore implements AccountStore {
  private readonly byUserName = new Map<string, Account>();
  private readonly byUserId = new Map<string, Account>();
  private readonly devices = new Map<string, Map<string, DeviceRecord>>();

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
}
