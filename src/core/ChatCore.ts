import type { Cursor } from '../domain/model.js';
import { Auth, type AuthSettings } from './Auth.js';
import { Channels } from './Channels.js';
import type { CoreDeps } from './deps.js';
import { Lifecycle } from './Lifecycle.js';
import { Messaging } from './Messaging.js';
import { PresenceTracker } from './PresenceTracker.js';
import { Session, type Outbox } from './Session.js';
import { SessionHub } from './SessionHub.js';
import type { PresenceInfo, Principal } from '../domain/model.js';
import { PresenceWatch } from './PresenceWatch.js';
import { isUserId } from '../domain/ids.js';
import { denied, invalid } from '../domain/errors.js';

const MAX_PRESENCE_QUERY = 500;

/** The use cases of one node, wired to its ports. Transports call only this. */
export class ChatCore {
  readonly auth: Auth;
  readonly channels: Channels;
  readonly messaging: Messaging;
  readonly lifecycle: Lifecycle;
  readonly presence: PresenceTracker;
  readonly hub = new SessionHub();

  constructor(
    readonly deps: CoreDeps,
    authSettings: Omit<AuthSettings, 'loginAttemptsPerMinute'>,
  ) {
    const auth = { ...authSettings, loginAttemptsPerMinute: deps.settings.loginAttemptsPerMinute };
    this.auth = new Auth(deps.accounts, deps.channels, deps.cursors, deps.sequencer, deps.rateLimiter, auth, deps.now);
    this.channels = new Channels(deps);
    this.messaging = new Messaging(deps, this.channels, (userId) => this.hub.countFor(userId) > 0);
    this.lifecycle = new Lifecycle(deps, this.channels);
    this.presence = new PresenceTracker(deps);
  }

  start() {
    this.presence.start();
  }

  stop() {
    this.presence.stop();
  }

  /** Takes one of the user's stream slots (see SessionHub.admit); the transport does so for every server stream. */
  admitStream(userId: string): () => void {
    return this.hub.admit(userId, this.deps.settings.maxStreamsPerUser);
  }

  /** Opens a device session on an admitted stream; the caller must call `endSession` when the stream ends. */
  async openSession(userId: string, deviceId: string, out: Outbox, resume: Cursor[]): Promise<Session> {
    const s = new Session(this.deps, this.channels, this.messaging, this.presence, userId, deviceId, out);
    this.hub.add(s);
    try {
      await s.start(resume);
    } catch (e) {
      this.endSession(s);
      throw e;
    }
    return s;
  }

  endSession(s: Session) {
    s.close();
    this.hub.remove(s);
  }

  /** Presence of users the caller shares a channel with (services see everyone). */
  async visiblePresence(p: Principal, userIds: string[]) {
    const ids = await this.checkPresenceQuery(p, userIds);
    return this.deps.presence.get(ids);
  }

  /**
   * Streams the presence of users the caller shares a channel with, withdrawn
   * (one `hidden` presence) when the last shared channel goes. Close it when the stream ends.
   */
  async watchPresence(p: Principal, userIds: string[], emit: (p: PresenceInfo) => void): Promise<PresenceWatch> {
    const ids = await this.checkPresenceQuery(p, userIds);
    const w = new PresenceWatch(this.deps, this.channels, p, ids, emit);
    try {
      await w.start();
    } catch (e) {
      w.close();
      throw e;
    }
    return w;
  }

  async checkPresenceQuery(p: Principal, userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) throw invalid('user_ids is empty');
    if (userIds.length > MAX_PRESENCE_QUERY) throw invalid(`at most ${MAX_PRESENCE_QUERY} user_ids per call`);
    const ids = [...new Set(userIds)];
    for (const id of ids) if (!isUserId(id)) throw invalid(`"${id.slice(0, 64)}" is not a valid user id`);
    if (p.kind === 'service') return ids;
    const contacts = await this.channels.contactsOf(p.userId);
    for (const id of ids) {
      if (id !== p.userId && !contacts.has(id)) throw denied(`you share no channel with ${id}, so its presence is not visible`);
    }
    return ids;
  }

  async listDevices(userId: string) {
    const [devices, live] = await Promise.all([this.deps.accounts.listDevices(userId), this.deps.presence.devices(userId, this.deps.now())]);
    return devices.map((d) => ({ ...d, online: live.get(d.deviceId)?.online ?? false, lastActiveAtMs: live.get(d.deviceId)?.lastActiveAtMs ?? 0 }));
  }
}
