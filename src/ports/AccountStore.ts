import type { Account, DeviceRecord, DeviceSession } from '../domain/model.js';

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
  /** Drops a device from the list (revoked, signed out); its session row stays (it holds the generation). */
  removeDevice(userId: string, deviceId: string): Promise<void>;
  /** The device's sign-in state; undefined when it never had one (signed in before sessions existed). */
  session(userId: string, deviceId: string): Promise<DeviceSession | undefined>;
  /** Writes a session unconditionally (login, revocation). */
  saveSession(session: DeviceSession): Promise<void>;
  /**
   * Replaces the refresh hash only if it is still `oldHash` (compare-and-set,
   * linearizable: of two racing rotations with one token exactly one wins);
   * `oldHash` joins `usedHashes` (the newest `keepUsed` are kept).
   */
  rotateRefresh(userId: string, deviceId: string, oldHash: string, newHash: string, expiresAtMs: number, keepUsed: number): Promise<boolean>;
  setPassword(userId: string, passwordHash: string): Promise<void>;
  /** Removes the account, frees its name (if still held by it) and drops its devices and sessions. Idempotent. */
  delete(account: Account): Promise<void>;
}
