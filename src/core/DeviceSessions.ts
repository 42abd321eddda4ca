import { createHash, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { unauthenticated } from '../domain/errors.js';
import { SESSIONS_TOPIC } from '../domain/events.js';
import type { DeviceSession } from '../domain/model.js';
import type { AccountStore } from '../ports/AccountStore.js';
import type { Fanout } from '../ports/Fanout.js';
import { DeviceGens } from './DeviceGens.js';

/** Rotated-out refresh hashes kept per device, to recognise a replayed token. */
const KEEP_USED = 16;

export interface TokenSettings {
  jwtSecret: Uint8Array;
  issuer: string;
  audience: string;
  /** Access token lifetime (CHAT_TOKEN_TTL_MS). */
  tokenTtlMs: number;
  /** Refresh token lifetime, renewed by each rotation (CHAT_REFRESH_TTL_MS). */
  refreshTtlMs: number;
  /** How long a cached device generation is trusted without an event (CHAT_ACCOUNT_CACHE_MS). */
  cacheMs: number;
}

export interface IssuedTokens {
  accessToken: string;
  expiresAtMs: number;
  refreshToken: string;
  refreshExpiresAtMs: number;
  userId: string;
  deviceId: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

/** `<base64url(userId \n deviceId)>.<32 random bytes>`: opaque to clients, names its device for the lookup. */
function newRefreshToken(userId: string, deviceId: string) {
  return `${Buffer.from(`${userId}\n${deviceId}`).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
}

function parseRefreshToken(token: string): { userId: string; deviceId: string } | undefined {
  const m = /^([A-Za-z0-9_-]{1,200})\.[A-Za-z0-9_-]{43}$/.exec(token);
  if (!m) return undefined;
  const [userId, deviceId, ...rest] = Buffer.from(m[1]!, 'base64url').toString('utf8').split('\n');
  return userId && deviceId && rest.length === 0 ? { userId, deviceId } : undefined;
}

/**
 * Device sessions: a short access token (HS256 JWT carrying the device's
 * token generation `gen`) plus a rotating refresh token, of which only the
 * SHA-256 is stored and exactly one is valid per device. Refreshing with a
 * token that was already rotated out revokes the device (OAuth 2 refresh
 * token reuse detection). Revoking raises the device's generation, which
 * every node learns through the `sessions` fan-out topic: its access tokens
 * are refused and its streams ended at once, with no store read per call.
 */
export class DeviceSessions {
  readonly gens: DeviceGens;

  constructor(
    private readonly accounts: AccountStore,
    private readonly fanout: Fanout,
    private readonly s: TokenSettings,
    private readonly now: () => number,
  ) {
    this.gens = new DeviceGens(async (u, d) => (await accounts.session(u, d))?.gen ?? 0, s.cacheMs, now);
  }

  /** Login: a new refresh token replaces any the device had; its generation is kept. */
  async start(userId: string, deviceId: string): Promise<IssuedTokens> {
    const old = await this.accounts.session(userId, deviceId);
    const refreshToken = newRefreshToken(userId, deviceId);
    const session: DeviceSession = {
      userId,
      deviceId,
      gen: old?.gen ?? 0,
      refreshHash: sha256(refreshToken),
      refreshExpiresAtMs: this.now() + this.s.refreshTtlMs,
      usedHashes: old?.usedHashes ?? [],
    };
    await this.accounts.saveSession(session);
    return this.issue(session, refreshToken);
  }

  /** Rotation. Throws UNAUTHENTICATED for an unknown, expired or reused token (a reused one also revokes the device). */
  async refresh(token: string): Promise<IssuedTokens> {
    const who = parseRefreshToken(token);
    if (!who) throw unauthenticated('refresh token is invalid; log in again');
    const session = await this.accounts.session(who.userId, who.deviceId);
    const hash = sha256(token);
    if (session?.refreshHash === hash) {
      if (session.refreshExpiresAtMs <= this.now()) throw unauthenticated('refresh token expired; log in again');
      const next = newRefreshToken(who.userId, who.deviceId);
      const expires = this.now() + this.s.refreshTtlMs;
      if (await this.accounts.rotateRefresh(who.userId, who.deviceId, hash, sha256(next), expires, KEEP_USED)) {
        return this.issue({ ...session, refreshExpiresAtMs: expires }, next);
      }
    } else if (!session?.usedHashes.includes(hash)) {
      throw unauthenticated('refresh token is invalid; log in again');
    }
    // Used before (or used by someone else a moment ago): whoever holds it may not be the device's owner.
    await this.revoke(who.userId, who.deviceId);
    throw unauthenticated('this refresh token was already used, so it may have been stolen: the device has been signed out; log in again');
  }

  /** Ends the device's session everywhere: tokens refused, refresh token dead, streams ended (see `sessions` topic). */
  async revoke(userId: string, deviceId: string): Promise<void> {
    const old = await this.accounts.session(userId, deviceId);
    const gen = Math.max((old?.gen ?? 0) + 1, this.now());
    await this.accounts.saveSession({ userId, deviceId, gen, refreshHash: undefined, refreshExpiresAtMs: 0, usedHashes: old?.usedHashes ?? [] });
    await this.accounts.removeDevice(userId, deviceId);
    this.gens.raise(userId, deviceId, gen);
    await this.fanout.publish(SESSIONS_TOPIC, { type: 'deviceRevoked', userId, deviceId, gen });
  }

  private async issue(session: DeviceSession, refreshToken: string): Promise<IssuedTokens> {
    const expiresAtMs = this.now() + this.s.tokenTtlMs;
    const accessToken = await new SignJWT({ did: session.deviceId, gen: session.gen })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(session.userId)
      .setIssuer(this.s.issuer)
      .setAudience(this.s.audience)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAtMs / 1000))
      .sign(this.s.jwtSecret);
    const { userId, deviceId, refreshExpiresAtMs } = session;
    return { accessToken, expiresAtMs, refreshToken, refreshExpiresAtMs, userId, deviceId };
  }
}
