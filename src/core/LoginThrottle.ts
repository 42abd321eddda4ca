import { exhausted } from '../domain/errors.js';
import type { RateLimiter } from '../ports/RateLimiter.js';

export interface ThrottleSettings {
  /** Register + Login calls per client address per minute, whatever the user name (burst: a third of it). */
  authPerAddressPerMinute: number;
  /** Login attempts per (user name, client address) per minute. */
  loginAttemptsPerMin: number;
  /** Login attempts per user name per minute from all addresses together, before the name counts as under attack. */
  loginNameCeilingPerMinute: number;
}

/** While a name is over its ceiling, each address gets this many attempts per minute for it. */
const UNDER_ATTACK_PER_MINUTE = 2;

/**
 * Cluster-wide limits on the calls that cost a password hash, in the order
 * they are checked (all token buckets in the RateLimiter port):
 *
 * 1. per client address, any user name: random names (unknown users are
 *    hashed too, so that timing does not reveal who exists) cannot buy more
 *    hashes than this;
 * 2. per (user name, address): guessing one password from one address is slow,
 *    and failures from address A never lock the same name out on address B;
 * 3. per user name over all addresses, a generous ceiling that never refuses
 *    by itself: past it the name is "under attack" and every address gets only
 *    2 attempts a minute for it, so a distributed guesser is slowed while the
 *    owner, from an address of their own, still gets their attempts at once.
 *
 * An attacker therefore cannot lock a victim out except from the victim's own
 * address (e.g. a shared NAT), and only for a minute.
 */
export class LoginThrottle {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly s: ThrottleSettings,
  ) {}

  /** Step 1, for Register and Login. */
  async address(addr: string) {
    const perMin = this.s.authPerAddressPerMinute;
    const wait = await this.limiter.take(`auth:a:${addr}`, perMin / 60, Math.max(1, Math.ceil(perMin / 3)));
    if (wait > 0) throw exhausted(`too many sign-in attempts from this address; retry in ${Math.ceil(wait / 1000)} s`, wait);
  }

  /** Steps 2 and 3, for Login. */
  async login(userName: string, addr: string) {
    const name = userName.toLowerCase().slice(0, 64);
    const perMin = this.s.loginAttemptsPerMin;
    let wait = await this.limiter.take(`login:${name}:${addr}`, perMin / 60, perMin);
    if (wait === 0) {
      const ceiling = this.s.loginNameCeilingPerMinute;
      const over = await this.limiter.take(`login:n:${name}`, ceiling / 60, ceiling);
      if (over > 0) wait = await this.limiter.take(`login:s:${name}:${addr}`, UNDER_ATTACK_PER_MINUTE / 60, UNDER_ATTACK_PER_MINUTE);
    }
    if (wait > 0) throw exhausted(`too many login attempts for this user name; retry in ${Math.ceil(wait / 1000)} s`, wait);
  }
}
