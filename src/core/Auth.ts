import { randomBytes, timingSafeEqual } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { DomainError, exhausted, unauthenticated } from '../domain/errors.js';
import { checkDeviceId, checkUserName, newDeviceId, newUserId } from '../domain/ids.js';
import type { Principal } from '../domain/model.js';
import type { AccountStore } from '../ports/AccountStore.js';
import type { CursorStore } from '../ports/CursorStore.js';
import type { ChannelStore } from '../ports/ChannelStore.js';
import type { Sequencer } from '../ports/Sequencer.js';
import type { RateLimiter } from '../ports/RateLimiter.js';
import { hashPassword, verifyPassword } from './passwords.js';

export interface AuthSettings {
  jwtSecret: Uint8Array;
  issuer: string;
  audience: string;
  tokenTtlMs: number;
  /** log2 of scrypt's N for new password hashes. */
  passwordHashCost: number;
  loginAttemptsPerMinute: number;
  /** Backend services: name -> shared secret. */
  serviceKeys: Map<string, string>;
}

/**
 * Accounts, passwords and access tokens. A token is an HS256 JWT whose `sub`
 * is the user id and `did` the device id: every request made with it acts as
 * exactly that user on exactly that device. Service keys authenticate backends
 * as `Bearer svc:<name>:<secret>`.
 */
export class Auth {
  private dummyHash?: Promise<string>;

  constructor(
    private readonly accounts: AccountStore,
    private readonly channels: ChannelStore,
    private readonly cursors: CursorStore,
    private readonly sequencer: Sequencer,
    private readonly rateLimiter: RateLimiter,
    private readonly settings: AuthSettings,
    private readonly now: () => number,
  ) {}

  async register(userName: string, password: string): Promise<{ userId: string }> {
    checkUserName(userName);
    checkPassword(password);
    const userId = newUserId();
    await this.accounts.create({ userId, userName, passwordHash: await hashPassword(password, this.settings.passwordHashCost), createdAtMs: this.now() });
    return { userId };
  }

  async login(userName: string, password: string, deviceId: string) {
    const failure = () => unauthenticated('user name or password is wrong');
    if (!userName || !password) throw failure();
    const device = deviceId ? checkDeviceId(deviceId) : newDeviceId();
    // Per user name, whether or not it exists: guessing is slowed down and existence is not revealed.
    const perMin = this.settings.loginAttemptsPerMinute;
    const wait = await this.rateLimiter.take(`login:${userName.toLowerCase().slice(0, 64)}`, perMin / 60, perMin);
    if (wait > 0) throw exhausted(`too many login attempts for this user name; retry in ${Math.ceil(wait / 1000)} s`, wait);
    const account = await this.accounts.byName(userName);
    // Verify against a dummy hash for unknown users so the timing does not reveal who exists.
    const ok = await verifyPassword(password, account?.passwordHash ?? (await this.dummy()));
    if (!account || !ok) throw failure();
    const { created } = await this.accounts.addDevice({ userId: account.userId, deviceId: device, createdAtMs: this.now() });
    if (created) await this.startAtHeads(account.userId, device);
    const expiresAtMs = this.now() + this.settings.tokenTtlMs;
    const accessToken = await new SignJWT({ did: device })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(account.userId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAtMs / 1000))
      .sign(this.settings.jwtSecret);
    return { accessToken, userId: account.userId, deviceId: device, expiresAtMs };
  }

  /** Resolves an `authorization` header value to a principal, or throws unauthenticated. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) throw unauthenticated('missing "authorization: Bearer <token>" metadata');
    const m = /^Bearer\s+(.+)$/i.exec(header);
    if (!m) throw unauthenticated('authorization metadata must be "Bearer <token>"');
    const token = m[1]!.trim();
    if (token.startsWith('svc:')) return this.service(token);
    try {
      const { payload } = await jwtVerify(token, this.settings.jwtSecret, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ['HS256'],
      });
      if (typeof payload.sub !== 'string' || typeof payload['did'] !== 'string') {
        throw unauthenticated('access token lacks a user or device');
      }
      return { kind: 'user', userId: payload.sub, deviceId: payload['did'] };
    } catch (e) {
      if (e instanceof DomainError) throw e;
      if (e instanceof joseErrors.JWTExpired) throw unauthenticated('access token expired; log in again');
      throw unauthenticated('access token is invalid');
    }
  }

  private service(token: string): Principal {
    const [, name, secret] = token.split(':');
    const expected = name ? this.settings.serviceKeys.get(name) : undefined;
    if (!expected || !secret || !safeEqual(secret, expected)) throw unauthenticated('service credential is invalid');
    return { kind: 'service', name: name! };
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

function safeEqual(a: string, b: string) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
