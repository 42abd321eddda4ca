import type { Cursor } from '../domain/model.js';
import { Auth, type AuthSettings } from './Auth.js';
import { Channels } from './Channels.js';
import { type CoreDeps, type CoreInput, newEphemeralCounts } from './deps.js';
import { Lifecycle } from './Lifecycle.js';
import { Messaging } from './Messaging.js';
import { PresenceTracker } from './PresenceTracker.js';
import { Session, type Outbox } from './Session.js';
import { SessionHub, type StreamSlot } from './SessionHub.js';
import type { PresenceInfo, Principal } from '../domain/model.js';
import { PresenceWatch } from './PresenceWatch.js';
import { isUserId } from '../domain/ids.js';
import { denied, invalid } from '../domain/errors.js';
import { requireUser } from './Channels.js';
import { SESSIONS_TOPIC } from '../domain/events.js';
import { Safety } from './Safety.js';

const MAX_PRESENCE_QUERY = 500;

/** The use cases of one node, wired to its ports. Transports call only this. */
export class ChatCore {
  readonly auth: Auth;
  readonly channels: Channels;
  readonly messaging: Messaging;
  readonly lifecycle: Lifecycle;
  readonly presence: PresenceTracker;
  readonly safety: Safety;
  readonly hub = new SessionHub();
  private unlisten: Array<() => void> = [];

  private readonly deps: CoreDeps;

  constructor(input: CoreInput, authSettings: Omit<AuthSettings, 'loginAttemptsPerMin'>) {
    const deps = { ...input, counts: input.counts ?? newEphemeralCounts() };
    this.deps = deps;
    const auth = { ...authSettings, loginAttemptsPerMin: deps.settings.loginAttemptsPerMin };
    this.auth = new Auth(deps.accounts, deps.channels, deps.cursors, deps.sequencer, deps.rateLimiter, deps.fanout, auth, deps.now);
    this.channels = new Channels(
      deps,
      (userId) => this.auth.known.exists(userId),
      (userId) => this.auth.known.knownNow(userId),
    );
    this.messaging = new Messaging(deps, this.channels, (userId) => this.hub.countFor(userId) > 0);
    this.lifecycle = new Lifecycle(deps, this.channels);
    this.presence = new PresenceTracker(deps);
    this.safety = new Safety(deps, this.channels);
  }

  /** The node's settings (read-only), for the transport's per-stream limits. */
  get settings(): CoreDeps['settings'] {
    return this.deps.settings;
  }

  /** The node a client should connect to (discovery's choice, hinted region first). */
  pickServer(regionHint: string) {
    return this.deps.registry.pick(regionHint);
  }

  start() {
    this.presence.start();
    const { fanout } = this.deps;
    const gens = this.auth.sessions.gens;
    const sessions = fanout.subscribe(SESSIONS_TOPIC, (ev) => {
      if (ev.type === 'deviceRevoked') {
        gens.raise(ev.userId, ev.deviceId, ev.gen);
        this.hub.endDevice(ev.userId, ev.deviceId, ev.gen);
      } else if (ev.type === 'accountDeleted') {
        this.auth.known.forget(ev.userId);
        this.hub.endDevice(ev.userId, undefined);
      }
    });
    this.unlisten.push(
      () => sessions.off(),
      // Revocations may have been lost with the broker connection: read generations again.
      fanout.onReset(() => gens.clear()),
      // ... and every session re-reads its channels after what it sent.
      fanout.onReset(() => this.hub.recoverAll()),
      this.channels.blocks.listen(fanout),
    );
  }

  stop() {
    this.presence.stop();
    for (const f of this.unlisten.splice(0)) f();
  }

  /**
   * Admits a server stream of an authenticated device: takes one of the user's
   * stream slots (RESOURCE_EXHAUSTED past `CHAT_MAX_STREAMS_PER_USER`) and ties
   * the stream to its device, so a revocation (from any node) ends it with
   * UNAUTHENTICATED; a revocation that landed between the token check and this
   * call is caught too. The stream releases the slot when it ends.
   */
  admitStream(p: Extract<Principal, { kind: 'user' }>, end: (e: Error) => void): StreamSlot {
    const gen = p.gen ?? 0;
    const slot = this.hub.admit(p.userId, p.deviceId, gen, this.deps.settings.maxStreamsPerUser, end);
    if ((this.auth.sessions.gens.peek(p.userId, p.deviceId) ?? 0) > gen) queueMicrotask(() => slot.revoke());
    return slot;
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
      if (id !== p.userId && !contacts.has(id)) throw denied(`the presence of ${id} is not visible to you`);
    }
    return ids;
  }

  /**
   * DeleteAccount (see account.proto for what happens to messages, groups and
   * direct channels): leaves every group, removes the account, frees its name,
   * and ends every stream of it on every node.
   */
  async deleteAccount(p: Principal, password: string, peer: string) {
    const me = requireUser(p);
    const account = await this.auth.checkPassword(me.userId, password, peer);
    for (const id of await this.deps.channels.channelsOf(me.userId)) {
      const ch = await this.deps.channels.get(id);
      if (ch?.kind === 'group') await this.channels.leave(p, id);
    }
    await this.deps.accounts.delete(account);
    this.auth.known.forget(me.userId);
    await this.deps.fanout.publish(SESSIONS_TOPIC, { type: 'accountDeleted', userId: me.userId });
    this.hub.endDevice(me.userId, undefined);
  }

  async listDevices(userId: string) {
    const [devices, live] = await Promise.all([this.deps.accounts.listDevices(userId), this.deps.presence.devices(userId, this.deps.now())]);
    return devices.map((d) => ({ ...d, online: live.get(d.deviceId)?.online ?? false, lastActiveAtMs: live.get(d.deviceId)?.lastActiveAtMs ?? 0 }));
  }
}
