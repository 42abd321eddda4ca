import type { NodeInfo } from '../ports/Registry.js';
import type { Session } from './Session.js';
import { exhausted, unauthenticated } from '../domain/errors.js';

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
  /** Per user: the admitted streams of each device, with the token generation they were opened with. */
  private readonly bound = new Map<string, Set<StreamSlot>>();

  /**
   * Takes a stream slot of the user, or throws RESOURCE_EXHAUSTED when the
   * user already holds `max`, and registers the stream of `deviceId` (opened
   * with token generation `gen`) so that a revocation ends it: `endDevice`
   * calls `end` with UNAUTHENTICATED. The slot's `release()` undoes both; only
   * its first call counts.
   */
  admit(userId: string, deviceId: string, gen: number, max: number, end: (e: Error) => void): StreamSlot {
    const n = this.streamsPerUser.get(userId) ?? 0;
    if (n >= max) throw exhausted(`too many open streams for this user on this node (${max}); close one first`);
    this.streamsPerUser.set(userId, n + 1);
    this.streamCount++;
    const slot = new StreamSlot(this, userId, deviceId, gen, end);
    let set = this.bound.get(userId);
    if (!set) this.bound.set(userId, (set = new Set()));
    set.add(slot);
    return slot;
  }

  /** Called once per slot by `StreamSlot.release`. */
  free(slot: StreamSlot) {
    this.streamCount--;
    const { userId } = slot;
    const left = (this.streamsPerUser.get(userId) ?? 1) - 1;
    if (left > 0) this.streamsPerUser.set(userId, left);
    else this.streamsPerUser.delete(userId);
    const set = this.bound.get(userId);
    if (set?.delete(slot) && set.size === 0) this.bound.delete(userId);
  }

  /** Ends the streams of one device opened with a generation below `gen` (every device when deviceId is undefined). */
  endDevice(userId: string, deviceId: string | undefined, gen = Number.POSITIVE_INFINITY) {
    for (const e of [...(this.bound.get(userId) ?? [])]) if ((deviceId === undefined || e.deviceId === deviceId) && e.gen < gen) e.revoke();
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

  /** The fan-out may have lost events: every session re-reads storage (see Session.recover). */
  recoverAll() {
    for (const s of this.sessions) void s.recover();
  }

  /** Asks every connected device to reconnect to `target` (or to ask PickServer when undefined). */
  redirectAll(target: NodeInfo | undefined, reason: string) {
    for (const s of this.sessions) {
      s.push({ type: 'reconnect', nodeId: target?.nodeId ?? '', address: target?.address ?? '', region: target?.region ?? '', reason });
    }
  }
}

/**
 * One admitted stream (see `SessionHub.admit`): a small object the stream
 * keeps for its life instead of two release closures and their contexts,
 * since idle streams are what a node holds most of.
 */
export class StreamSlot {
  private held = true;

  constructor(
    private readonly hub: SessionHub,
    readonly userId: string,
    readonly deviceId: string,
    readonly gen: number,
    private readonly end: (e: Error) => void,
  ) {}

  /** The device was signed out: ends the stream with UNAUTHENTICATED. */
  revoke() {
    this.end(unauthenticated('this device was signed out; log in again'));
  }

  /** Gives the slot back; safe to call more than once. */
  release() {
    if (!this.held) return;
    this.held = false;
    this.hub.free(this);
  }
}
