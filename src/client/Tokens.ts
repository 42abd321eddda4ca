/** A device's tokens as Login and RefreshSession return them. */
export interface Tokens {
  accessToken: string;
  /** When the access token expires, ms since the epoch (0: unknown, never refreshed early). */
  expiresAtMs: number;
  refreshToken: string;
  refreshExpiresAtMs: number;
}

/** Renews the access token this long before it expires (at most a third of its lifetime). */
const MARGIN_MS = 60_000;

/**
 * Holds a device's tokens and refreshes them with at most one RefreshSession
 * in flight: the server rotates the refresh token on every use and takes a
 * second use of the same one for theft (it signs the device out), so
 * concurrent callers share one refresh and all get its result.
 */
export class TokenKeeper {
  private tokens?: Tokens;
  private obtainedAtMs = 0;
  private refreshing?: Promise<Tokens>;

  constructor(
    private readonly exchange: (refreshToken: string) => Promise<Tokens>,
    private readonly onTokens?: (t: Tokens) => void,
  ) {}

  /** Replaces the tokens (after Login, or tokens loaded from storage). */
  set(t: Tokens | undefined) {
    this.tokens = t;
    this.obtainedAtMs = Date.now();
  }

  get current(): Tokens | undefined {
    return this.tokens;
  }

  /** True when a refresh token is held. */
  get canRefresh(): boolean {
    return !!this.tokens?.refreshToken;
  }

  /** An access token good for a while, refreshing first when it is about to expire. */
  async access(): Promise<string> {
    const t = this.tokens;
    if (!t) return '';
    const margin = Math.min(MARGIN_MS, (t.expiresAtMs - this.obtainedAtMs) / 3);
    if (!t.refreshToken || !t.expiresAtMs || t.expiresAtMs - Date.now() > margin) return t.accessToken;
    return (await this.refresh()).accessToken;
  }

  /**
   * Exchanges the refresh token for new tokens; joins a refresh already in
   * flight. `unless`: skip when the access token is no longer this one (another
   * caller refreshed it meanwhile).
   */
  refresh(unless?: string): Promise<Tokens> {
    if (this.refreshing !== undefined) return this.refreshing;
    const t = this.tokens;
    if (t && unless !== undefined && t.accessToken !== unless) return Promise.resolve(t);
    if (!t?.refreshToken) return Promise.reject(new Error('no refresh token: log in first'));
    this.refreshing = this.exchange(t.refreshToken)
      .then((next) => {
        this.set(next);
        this.onTokens?.(next);
        return next;
      })
      .catch((e: { code?: number }) => {
        // UNAUTHENTICATED: the device was signed out; never present that refresh token again.
        if (e.code === 16 && this.tokens === t) this.tokens = { ...t, refreshToken: '' };
        throw e;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }
}
