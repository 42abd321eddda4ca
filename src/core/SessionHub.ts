import type { NodeInfo } from '../ports/Registry.js';
import type { Session } from './Session.js';

/** The live sessions of this node: counted for metrics and limits, told to move on drain. */
export class SessionHub {
  private readonly sessions = new Set<Session>();

  private readonly perUser = new Map<string, number>();

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
