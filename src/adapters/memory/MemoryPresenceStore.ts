import type { PresenceInfo } from '../../domain/model.js';
import type { PresenceStore } from '../../ports/PresenceStore.js';

interface UserPresence {
  online: boolean;
  lastActiveAtMs: number;
  devices: Map<string, { expiresAtMs: number; lastActiveAtMs: number }>;
}

/** Device liveness in process memory. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly users = new Map<string, UserPresence>();

  async touch(userId: string, deviceId: string, activeAtMs: number, expiresAtMs: number) {
    let u = this.users.get(userId);
    if (!u) this.users.set(userId, (u = { online: false, lastActiveAtMs: 0, devices: new Map() }));
    const d = u.devices.get(deviceId);
    u.devices.set(deviceId, {
      expiresAtMs: Math.max(d?.expiresAtMs ?? 0, expiresAtMs),
      lastActiveAtMs: Math.max(d?.lastActiveAtMs ?? 0, activeAtMs),
    });
    u.lastActiveAtMs = Math.max(u.lastActiveAtMs, activeAtMs);
    const cameOnline = !u.online;
    u.online = true;
    return { cameOnline };
  }

  async sweep(nowMs: number) {
    const wentOffline: PresenceInfo[] = [];
    for (const [userId, u] of this.users) {
      if (!u.online) continue;
      let alive = false;
      for (const d of u.devices.values()) if (d.expiresAtMs > nowMs) alive = true;
      if (!alive) {
        u.online = false;
        wentOffline.push({ userId, online: false, lastActiveAtMs: u.lastActiveAtMs });
      }
    }
    return wentOffline;
  }

  async get(userIds: string[]) {
    return userIds.map((userId) => {
      const u = this.users.get(userId);
      return { userId, online: u?.online ?? false, lastActiveAtMs: u?.lastActiveAtMs ?? 0 };
    });
  }

  async devices(userId: string, nowMs: number) {
    const out = new Map<string, { online: boolean; lastActiveAtMs: number }>();
    for (const [id, d] of this.users.get(userId)?.devices ?? []) {
      out.set(id, { online: d.expiresAtMs > nowMs, lastActiveAtMs: d.lastActiveAtMs });
    }
    return out;
  }
}
