import { createHash, timingSafeEqual } from 'node:crypto';

/** A service name: the same characters CHAT_SERVICE_KEYS accepts. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Splits a service credential `svc:<name>:<secret>`. The name ends at the
 * first ':' after the prefix; everything after it, ':' included, is the
 * secret. Undefined unless the token has exactly that shape with a valid name
 * and a non-empty secret.
 */
export function parseServiceToken(token: string): { name: string; secret: string } | undefined {
  if (!token.startsWith('svc:')) return undefined;
  const rest = token.slice(4);
  const cut = rest.indexOf(':');
  if (cut <= 0) return undefined;
  const name = rest.slice(0, cut);
  const secret = rest.slice(cut + 1);
  return NAME.test(name) && secret.length > 0 ? { name, secret } : undefined;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Service secrets by name, kept as SHA-256 digests: a presented secret is
 * hashed and compared in constant time with a fixed-length digest, so neither
 * its content nor its length shows in the timing. An unknown name is compared
 * against a dummy digest, so it takes the same time as a wrong secret.
 */
export class ServiceKeys {
  private readonly digests = new Map<string, Buffer>();
  private readonly dummy = digest('\0no such service\0');

  constructor(keys: Map<string, string>) {
    for (const [name, secret] of keys) this.digests.set(name, digest(secret));
  }

  /** The service's name when `token` is a valid `svc:<name>:<secret>` credential, else undefined. */
  check(token: string): string | undefined {
    const parsed = parseServiceToken(token);
    if (!parsed) return undefined;
    const expected = this.digests.get(parsed.name);
    const same = timingSafeEqual(digest(parsed.secret), expected ?? this.dummy);
    return same && expected ? parsed.name : undefined;
  }
}
