import type { NodeInfo } from '../ports/Registry.js';
import type { Session } from './Session.js';

/** The live sessions of this node: counted for metrics and limits, told to move on drain. */
export class SessionHub {
  private readonly sessions = new Set<Session>();

  add(s: Session) {
    this.sessions.add(s);
  }

  remove(s: Session) {
    this.sessions.delete(s);
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
