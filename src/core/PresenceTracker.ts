import { presenceTopic } from '../domain/events.js';
import type { PresenceInfo } from '../domain/model.js';
import type { CoreDeps } from './deps.js';

/**
 * Turns device activity into user presence transitions.
 *
 * A device is alive for `presenceTimeoutMs` after its last heartbeat; an open
 * stream counts as a heartbeat every `heartbeatIntervalMs` (one node-wide
 * timer touches all connected devices in one batch). A user is online while
 * any device is alive, so a device that drops and comes back within the
 * timeout causes no event at all. Transitions are published on `p:<userId>`.
 */
export class PresenceTracker {
  private readonly connected = new Map<string, { userId: string; deviceId: string; refs: number }>();
  private heartbeatTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping = false;

  constructor(private readonly d: CoreDeps) {}

  start() {
    const { heartbeatIntervalMs, presenceTimeoutMs } = this.d.settings;
    this.heartbeatTimer = setInterval(() => void this.touchConnected(), heartbeatIntervalMs);
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(50, Math.min(1000, presenceTimeoutMs / 5)));
    this.heartbeatTimer.unref();
    this.sweepTimer.unref();
  }

  stop() {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.sweepTimer);
  }

  /** A device stream opened. */
  async connect(userId: string, deviceId: string) {
    const key = `${userId}/${deviceId}`;
    const c = this.connected.get(key);
    if (c) c.refs++;
    else this.connected.set(key, { userId, deviceId, refs: 1 });
    await this.heartbeat(userId, deviceId);
  }

  /** A device stream closed: the device stays alive for one more timeout (flap tolerance). */
  async disconnect(userId: string, deviceId: string) {
    const key = `${userId}/${deviceId}`;
    const c = this.connected.get(key);
    if (c && --c.refs <= 0) this.connected.delete(key);
    await this.heartbeat(userId, deviceId).catch(() => {});
  }

  async heartbeat(userId: string, deviceId: string) {
    const now = this.d.now();
    const { cameOnline } = await this.d.presence.touch(userId, deviceId, now, now + this.d.settings.presenceTimeoutMs);
    if (cameOnline) await this.publish({ userId, online: true, lastActiveAtMs: now });
  }

  connectedDevices() {
    return this.connected.size;
  }

  private async touchConnected() {
    await Promise.all([...this.connected.values()].map((c) => this.heartbeat(c.userId, c.deviceId).catch(() => {})));
  }

  /** Public for tests: runs one sweep now. */
  async sweep() {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const p of await this.d.presence.sweep(this.d.now())) await this.publish(p);
    } catch (e) {
      this.d.log.warn({ err: String(e) }, 'presence sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  private publish(presence: PresenceInfo) {
    return this.d.fanout.publish(presenceTopic(presence.userId), { type: 'presence', presence });
  }
}
