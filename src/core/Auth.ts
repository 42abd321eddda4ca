import { randomBytes } from 'node:crypto';
import { DomainError, invalid, notFound, unauthenticated } from '../domain/errors.js';
import { checkDeviceId, checkUserName, newDeviceId, newUserId } from '../domain/ids.js';
import type { Principal } from '../domain/model.js';
import type { AccountStore } from '../ports/AccountStore.js';
import type { CursorStore } from '../ports/CursorStore.js';
import type { ChannelStore } from '../ports/ChannelStore.js';
import type { Sequencer } from '../ports/Sequencer.js';
import type { RateLimiter } from '../ports/RateLimiter.js';
import type { Fanout } from '../ports/Fanout.js';
import { DeviceSessions } from './DeviceSessions.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { HashGate } from './HashGate.js';
import { KnownAccounts } from './KnownAccounts.js';
import { LoginThrottle, type ThrottleSettings } from './LoginThrottle.js';
import { ServiceKeys } from './serviceTokens.js';
import { Hs256Verifier } from './hs256.js';

/** Defaults of the settings a caller may leave out (the config's defaults). */
const DEFAULTS = {
  refreshTtlMs: 30 * 24 * 3600 * 1000,
  authPerAddressPerMinute: 30,
  loginNameCeilingPerMinute: 100,
  hashConcurrency: 2,
  hashQueue: 16,
  accountCacheMs: 60_000,
};

export interface AuthSettings extends Partial<Omit<ThrottleSettings, 'loginAttemptsPerMin'>> {
  jwtSecret: Uint8Array;
  issuer: string;
  audience: string;
  tokenTtlMs: number;
  /** Refresh token lifetime, renewed by each rotation (default 30 days). */
  refreshTtlMs?: number;
  /** log2 of scrypt's N for new password hashes. */
  passwordHashCost: number;
  /** Login attempts per (user name, client address) per minute (see LoginThrottle). */
  loginAttemptsPerMin: number;
  /** Password hashes computed at once, and how many may wait for a turn (see HashGate). */
  hashConcurrency?: number;
  hashQueue?: number;
  /** How long a user id seen to have an account is trusted without reading the store again. */
  accountCacheMs?: number;
  /** Backend services: name -> shared secret. */
  serviceKeys: Map<string, string>;
}

/**
 * Accounts, passwords and access tokens. A token is an HS256 JWT whose `sub`
 * is the user id and `did` the device id: every request made with it acts as
 * exactly that user on exactly that device; it must carry `exp`, and its user
 * must still have an account. Service keys authenticate backends as
 * `Bearer svc:<name>:<secret>`. Register and Login are throttled per client
 * address and per user name (LoginThrottle) and their hashes go through a
 * bounded HashGate, so unauthenticated callers cannot take the CPU.
 */
export class Auth {
  private dummyHash?: Promise<string>;
  readonly gate: HashGate;
  readonly known: KnownAccounts;
  private readonly throttle: LoginThrottle;
  private readonly services: ServiceKeys;
  private readonly verifier: Hs256Verifier;
  readonly sessions: DeviceSessions;

  constructor(
    private readonly accounts: AccountStore,
    private readonly channels: ChannelStore,
    private readonly cursors: CursorStore,
    private readonly sequencer: Sequencer,
    rateLimiter: RateLimiter,
    fanout: Fanout,
    private readonly settings: AuthSettings,
    private readonly now: () => number,
  ) {
    const s = { ...DEFAULTS, ...settings };
    this.sessions = new DeviceSessions(accounts, fanout, { ...s, cacheMs: s.accountCacheMs }, now);
    this.gate = new HashGate({ concurrency: s.hashConcurrency, queue: s.hashQueue });
    this.known = new KnownAccounts(accounts, s.accountCacheMs, now);
    this.throttle = new LoginThrottle(rateLimiter, s);
    this.services = new ServiceKeys(settings.serviceKeys);
    this.verifier = new Hs256Verifier(settings.jwtSecret, settings.issuer, settings.audience);
  }

  /** `peer`: the caller's address (transport/peer.ts), for the per-address limits. */
  async register(userName: string, password: string, peer = 'unknown'): Promise<{ userId: string }> {
    checkUserName(userName);
    checkPassword(password);
    await this.throttle.address(peer);
    const userId = newUserId();
    const passwordHash = await this.gate.run(peer, () => hashPassword(password, this.settings.passwordHashCost));
    await this.accounts.create({ userId, userName, passwordHash, createdAtMs: this.now() });
    this.known.remember(userId);
    return { userId };
  }

  async login(userName: string, password: string, deviceId: string, peer = 'unknown') {
    const failure = () => unauthenticated('user name or password is wrong');
    if (!userName || !password) throw failure();
    const device = deviceId ? checkDeviceId(deviceId) : newDeviceId();
    // Limits apply whether or not the name exists: guessing is slowed down and existence is not revealed.
    await this.throttle.address(peer);
    await this.throttle.login(userName, peer);
    const account = await this.accounts.byName(userName);
    // Verify against a dummy hash for unknown users so the timing does not reveal who exists.
    const ok = await this.gate.run(peer, async () => verifyPassword(password, account?.passwordHash ?? (await this.dummy())));
    if (!account || !ok) throw failure();
    this.known.remember(account.userId);
    const { created } = await this.accounts.addDevice({ userId: account.userId, deviceId: device, createdAtMs: this.now() });
    if (created) await this.startAtHeads(account.userId, device);
    return this.sessions.start(account.userId, device);
  }

  /** RefreshSession: rotation, throttled per client address like Login (see DeviceSessions.refresh). */
  async refresh(refreshToken: string, peer = 'unknown') {
    await this.throttle.address(peer);
    const r = await this.sessions.refresh(refreshToken);
    if (!(await this.known.exists(r.userId))) throw unauthenticated('the account of this refresh token no longer exists');
    return r;
  }

  /** RevokeDevice: another device of mine (or this one: Logout). NOT_FOUND for a device the account does not have. */
  async revokeDevice(userId: string, deviceId: string) {
    checkDeviceId(deviceId);
    const devices = await this.accounts.listDevices(userId);
    if (!devices.some((d) => d.deviceId === deviceId)) throw notFound(`you have no device "${deviceId}"`);
    await this.sessions.revoke(userId, deviceId);
  }

  /** Checks a signed-in user's password (for ChangePassword and DeleteAccount); UNAUTHENTICATED when wrong. */
  async checkPassword(userId: string, password: string, peer = 'unknown') {
    const account = await this.accounts.byId(userId);
    if (!account) throw unauthenticated('the account of this access token no longer exists');
    await this.throttle.login(account.userName, peer);
    const ok = await this.gate.run(peer, () => verifyPassword(password, account.passwordHash));
    if (!ok) throw unauthenticated('password is wrong');
    return account;
  }

  /** ChangePassword: every other device of the account is signed out. */
  async changePassword(userId: string, deviceId: string, oldPassword: string, newPassword: string, peer = 'unknown') {
    checkPassword(newPassword);
    if (oldPassword === newPassword) throw invalid('the new password must differ from the old one');
    await this.checkPassword(userId, oldPassword, peer);
    const hash = await this.gate.run(peer, () => hashPassword(newPassword, this.settings.passwordHashCost));
    await this.accounts.setPassword(userId, hash);
    const others = (await this.accounts.listDevices(userId)).filter((d) => d.deviceId !== deviceId);
    await Promise.all(others.map((d) => this.sessions.revoke(userId, d.deviceId)));
    return { revokedDevices: others.length };
  }

  /** Resolves an `authorization` header value to a principal, or throws unauthenticated. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) throw unauthenticated('missing "authorization: Bearer <token>" metadata');
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) throw unauthenticated('authorization metadata must be "Bearer <token>"');
    const token = m[1]!.trim();
    if (token.startsWith('svc:')) return this.service(token);
    const r = this.verifier.verify(token, this.now());
    if (!r.ok) {
      if (r.reason === 'expired') throw unauthenticated('access token expired; log in again');
      if (r.reason === 'no-exp') throw unauthenticated('access token has no expiry (exp); log in again');
      throw unauthenticated('access token is invalid');
    }
    const { sub, did } = r.claims;
    if (typeof sub !== 'string' || typeof did !== 'string') throw unauthenticated('access token lacks a user or device');
    if (!(await this.known.exists(sub))) throw unauthenticated('the account of this access token no longer exists');
    const gen = typeof r.claims.gen === 'number' ? r.claims.gen : 0;
    const current = this.sessions.gens.current(sub, did);
    if (gen < (typeof current === 'number' ? current : await current)) throw unauthenticated('this device was signed out; log in again');
    return { kind: 'user', userId: sub, deviceId: did, gen };
  }

  private service(token: string): Principal {
    const name = this.services.check(token);
    if (!name) throw unauthenticated('service credential is invalid');
    return { kind: 'service', name };
  }

  /** A new device starts at the current head of every channel: it pages older history itself. */
  private async startAtHeads(userId: string, deviceId: string) {
    const ids = await this.channels.channelsOf(userId);
    const heads = await Promise.all(ids.map(async (channelId) => ({ channelId, lastMessageId: await this.sequencer.current(channelId) })));
    await this.cursors.ackDelivered(userId, deviceId, heads);
  }

  private dummy() {
    return (this.dummyHash ??= hashPassword(randomBytes(12).toString('hex'), this.settings.passwordHashCost));
  }
}

function checkPassword(pw: string) {
  if (pw.length < 8 || pw.length > 256) throw new DomainError('invalid_argument', 'password must be 8-256 characters');
}
