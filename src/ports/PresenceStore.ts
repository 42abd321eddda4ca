import type { PresenceInfo } from '../domain/model.js';

/**
 * Which devices are alive. A device is alive until its `expiresAtMs`; a user is
 * online while any of their devices is alive.
 * Guarantees: `touch` reports `cameOnline` to exactly one caller per
 * offline->online transition, and `sweep` reports each online->offline
 * transition to exactly one caller, across all nodes.
 */
export interface PresenceStore {
  /** Keeps a device alive until `expiresAtMs`; `activeAtMs` becomes the user's last activity. */
  touch(userId: string, deviceId: string, activeAtMs: number, expiresAtMs: number): Promise<{ cameOnline: boolean }>;
  /** Finds users whose last device expired before `nowMs` and marks them offline. */
  sweep(nowMs: number): Promise<PresenceInfo[]>;
  get(userIds: string[]): Promise<PresenceInfo[]>;
  /** Per-device liveness of one user (for ListDevices). */
  devices(userId: string, nowMs: number): Promise<Map<string, { online: boolean; lastActiveAtMs: number }>>;
}
