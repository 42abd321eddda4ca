import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

export type TokenCheck = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: 'invalid' | 'expired' | 'no-exp' };

const INVALID: TokenCheck = { ok: false, reason: 'invalid' };

function json(part: string): unknown {
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) return undefined; // not canonical base64url
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Verifies our own access tokens (compact JWS, HS256) synchronously with
 * node:crypto. Every stream and call checks a token; jose's WebCrypto path
 * imports a key and hops to the thread pool per verification (about 170 µs
 * of CPU and a burst of garbage each), which made a flood of refused streams
 * stall the node. Tokens are still issued with jose. Rules: header alg
 * exactly HS256 and no `crit`; signature compared in constant time; `exp`
 * required and in the future; `nbf`, if present, not in the future; `iss`
 * and `aud` must match.
 */
export class Hs256Verifier {
  private readonly key: KeyObject;

  constructor(
    secret: Uint8Array,
    private readonly issuer: string,
    private readonly audience: string,
  ) {
    this.key = createSecretKey(secret);
  }

  verify(token: string, nowMs: number): TokenCheck {
    const parts = token.split('.');
    if (parts.length !== 3) return INVALID;
    const [h, p, s] = parts as [string, string, string];
    const header = json(h);
    if (!isObject(header) || header.alg !== 'HS256' || header.crit !== undefined) return INVALID;
    const sig = Buffer.from(s, 'base64url');
    const expected = createHmac('sha256', this.key).update(`${h}.${p}`).digest();
    if (sig.length !== expected.length || sig.toString('base64url') !== s || !timingSafeEqual(sig, expected)) return INVALID;
    const claims = json(p);
    if (!isObject(claims)) return INVALID;
    const now = Math.floor(nowMs / 1000);
    if (claims.exp === undefined) return { ok: false, reason: 'no-exp' };
    if (typeof claims.exp !== 'number') return INVALID;
    if (claims.exp <= now) return { ok: false, reason: 'expired' };
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now)) return INVALID;
    if (claims.iss !== this.issuer) return INVALID;
    const aud = claims.aud;
    if (!(aud === this.audience || (Array.isArray(aud) && aud.includes(this.audience)))) return INVALID;
    return { ok: true, claims };
  }
}
