import { closeSync, openSync, statSync, unlinkSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import { ChatClient } from '../client/index.js';
import { CliError, isServiceError } from './errors.js';
import { profilePath, requireProfile, writeProfile, type Profile } from './profile.js';

/** An access token expiring sooner than this is renewed before use. */
const MARGIN_MS = 60_000;
/** A lock file older than this was left by a process that died: taken over. */
const STALE_LOCK_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Holds `<profile>.json.lock` while `fn` runs (exclusive create), waiting up to 10 s for another process. */
async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${profilePath(name)}.lock`;
  for (let deadline = Date.now() + 10_000; ; ) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) unlinkSync(lock);
      else if (Date.now() > deadline) throw new CliError(`profile "${name}" is locked by another chat process (${lock})`);
      else await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    unlinkSync(lock);
  }
}

/**
 * A client of `server` acting as the profile's device: each call carries an
 * access token from freshProfile (renewed under the profile's lock file).
 */
export function cliClient(server: string, profileName: string, profile: Profile): ChatClient {
  const client = new ChatClient(server, { tokenProvider: async () => (await freshProfile(profileName, server)).token });
  client.userId = profile.userId;
  client.deviceId = profile.deviceId;
  return client;
}

/**
 * The profile with an access token good for at least another minute: an
 * expiring one is exchanged for new tokens with the profile's refresh token
 * (RefreshSession), which are saved at once, so a profile stays signed in for
 * as long as it is used at least once per refresh lifetime (30 days by
 * default), with no password prompt. Refreshing happens under a lock file and
 * re-reads the profile inside it: two chat processes must never present the
 * same refresh token, as the server would take the second use for theft and
 * sign the device out.
 */
export async function freshProfile(name: string, server: string): Promise<Profile> {
  const fresh = (p: Profile) => !p.refreshToken || !p.expiresAtMs || p.expiresAtMs - Date.now() > MARGIN_MS;
  const first = requireProfile(name);
  if (fresh(first)) return first;
  return withLock(name, async () => {
    const p = requireProfile(name);
    if (fresh(p)) return p;
    const api = new ChatClient(server);
    try {
      const r = await api.accounts.refreshSession({ refreshToken: p.refreshToken! });
      const next: Profile = { ...p, token: r.accessToken, expiresAtMs: r.expiresAtMs, refreshToken: r.refreshToken, refreshExpiresAtMs: r.refreshExpiresAtMs };
      writeProfile(name, next);
      return next;
    } catch (e) {
      if (isServiceError(e) && e.code === status.UNAUTHENTICATED) {
        writeProfile(name, { ...p, token: '', refreshToken: '' });
        const as = name === 'default' ? '' : ` --as ${name}`;
        throw new CliError(`this device was signed out (${e.details}); run: chat${as} login ${p.userName}`);
      }
      throw e;
    } finally {
      api.close();
    }
  });
}
