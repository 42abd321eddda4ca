import type { NodeInfo } from '../ports/Registry.js';
import type { Session } from './Session.js';
import { exhausted } from '../domain/errors.js';

/**
 * The live sessions of this node (counted for metrics, told to move on
 * drain) and the admission point of every server stream: Connect before and
 * after resume, Subscribe and WatchPresence all hold one slot of their user's
 * `CHAT_MAX_STREAMS_PER_USER`, from authentication until the stream ends.
 */
export class SessionHub {
  private readonly sessions = new Set<Session>();

  private readonly perUser = new Map<string, number>();
  private readonly streamsPerUser = new Map<string, number>();
  private streamCount = 0;
  /** Per user: the open streams of each device with the token generation they were opened with. */
  private readonly bound = new Map<string, Set<{ deviceId: string; gen: number; end: () => void }>>();

  /**
   * Registers a stream of a device so that a revocation can end it (`endDevice`).
   * Returns the release, safe to call more than once.
   */
  bindDevice(userId: string, deviceId: string, gen: number, end: () => void): () => void {
    let set = this.bound.get(userId);
    if (!set) this.bound.set(userId, (set = new Set()));
    const entry = { deviceId, gen, end };
    set.add(entry);
    return () => {
      if (set.delete(entry) && set.size === 0 && this.bound.get(userId) === set) this.bound.delete(userId);
    };
  }

  /** Ends the streams of one device opened with a generation below `gen` (every device when deviceId is undefined). */
  endDevice(userId: string, deviceId: string | undefined, gen = Number.POSITIVE_INFINITY) {
    for (const e of [...(this.bound.get(userId) ?? [])]) if ((deviceId === undefined || e.deviceId === deviceId) && e.gen < gen) e.end();
  }

  /**
   * Takes a stream slot of `userId`, or throws RESOURCE_EXHAUSTED when the
   * user already holds `max`. The returned release gives the slot back; it is
   * safe to call more than once (only the first call counts).
   */
  admit(userId: string, max: number): () => void {
    const n = this.streamsPerUser.get(userId) ?? 0;
    if (n >= max) throw exhausted(`too many open streams for this user on this node (${max}); close one first`);
    this.streamsPerUser.set(userId, n + 1);
    this.streamCount++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.streamCount--;
      const left = (this.streamsPerUser.get(userId) ?? 1) - 1;
      if (left > 0) this.streamsPerUser.set(userId, left);
      else this.streamsPerUser.delete(userId);
    };
  }

  /** Admitted server streams of one user on this node (all kinds). */
  streamsOf(userId: string) {
    return this.streamsPerUser.get(userId) ?? 0;
  }

  /** Admitted server streams on this node (all kinds). */
  streams() {
    return this.streamCount;
  }

  add(s: Session) {
    this.sessions.add(s);
    this.perUser.set(s.userId, (this.perUser.get(s.userId) ?? 0) + 1);
  }

  remove(s: Session) {
    if (!this.sessions.delete(s)) return;
    const n = (this.perUser.get(s.userId) ?? 1) - 1;
    if (n > 0) this.perUser.set(s.userId, n);
    else this.perUser.delete(s.userId);
  }

  /** Open sessions of one user on this node. */
  countFor(userId: string) {
    return this.perUser.get(userId) ?? 0;
  }

  count() {
    return this.sessions.size;
  }

  /** Asks every connected device to reconnect to `target` (or to ask PickServer when undefined). */
  redirectAll(target: NodeInfo | undefined, reason: string) {
    for (const s of this.sessions) {
      s.push({ type: 'reconnect', nodeId: target?.nodeId ?? '', address: target?.address ?? '', region: target?.region ?? '', reason });
    }
  }
}
