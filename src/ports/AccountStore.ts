import type { Account, DeviceRecord } from '../domain/model.js';

/**
 * Accounts and the devices that logged in to them.
 * Guarantees: `create` is atomic on the user name (exactly one of two racing
 * creates succeeds; the other gets `already_exists`). `addDevice` is idempotent.
 * Failures: a backend outage rejects with DomainError('unavailable').
 */
export interface AccountStore {
  create(account: Account): Promise<void>;
  byName(userName: string): Promise<Account | undefined>;
  byId(userId: string): Promise<Account | undefined>;
  /** Records a device; `created` is true only the first time. */
  addDevice(device: DeviceRecord): Promise<{ created: boolean }>;
  listDevices(userId: string): Promise<DeviceRecord[]>;
}
