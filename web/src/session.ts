// Sessions: a short-lived access token (CHAT_TOKEN_TTL_MS, 15 min by default)
// and a refresh token that works exactly once (AccountService.RefreshSession
// answers a new pair). The pair lives in localStorage, shared by this browser's
// tabs, which are one device. Presenting a refresh token twice makes the server
// take it for stolen and sign the device out, so refreshes are serialized: one
// in flight per tab, and one at a time across tabs under a Web Lock, inside
// which the newest pair is read again from IndexedDB (another tab may have just
// rotated it: it is adopted, not refreshed a second time). Not from
// localStorage: Chromium caches it per tab and a write reaches the other tabs
// a moment later, which was enough for two tabs to refresh with one token.
import type { LoginResponse, RefreshSessionResponse } from '../../src/gen-es/chat/v1/account_pb.js';
import { Code, codeOf, messageOf } from './api.js';
import { api, app, later, type Session, type State, store } from './state.js';

const KEY = 'chat.session';
/** A failed refresh (network) is tried again after this long. */
const RETRY_MS = 3000;

/** Set by main.ts: the server refused the refresh (device revoked, refresh token dead): show the login form with `reason`. */
export const sessionHooks = { signedOut: (_reason: string) => {} };

/** The session a Login or RefreshSession answer starts, with its refresh time. */
export function sessionFrom(r: LoginResponse | RefreshSessionResponse, userName: string): Session {
  return {
    token: r.accessToken,
    refreshToken: r.refreshToken,
    refreshAt: refreshAtFor(r.accessToken, r.expiresAtMs),
    userId: r.userId,
    userName,
    deviceId: r.deviceId,
  };
}

/**
 * When to refresh on this browser's clock: after 70% of the token's life, at
 * most a minute before it ends. The life is read from the token itself (exp -
 * iat, both the server's clock, in whole seconds), so a skewed clock here does
 * not matter; `expires_at_ms` is the fallback.
 */
function refreshAtFor(token: string, expiresAtMs: bigint): number {
  const now = Date.now();
  let life = Number(expiresAtMs) - now;
  try {
    const c = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown; iat?: unknown };
    if (typeof c.exp === 'number' && typeof c.iat === 'number') life = (c.exp - c.iat - 1) * 1000; // both rounded down to seconds
  } catch {
    // not a JWT we can read: keep the server's expiry
  }
  return now + Math.max(250, life * 0.7, life - 60_000);
}

/** Reads the newest pair from IndexedDB, or writes `value` as the newest (resolved once committed). */
function newest(value?: Session): Promise<Session | undefined> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('chat', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('kv');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction('kv', value ? 'readwrite' : 'readonly');
      const req = value ? tx.objectStore('kv').put(value, KEY) : tx.objectStore('kv').get(KEY);
      tx.oncomplete = () => {
        db.close();
        resolve(value ?? (req.result as Session | undefined));
      };
      tx.onerror = tx.onabort = () => {
        db.close();
        reject(tx.error);
      };
    };
  });
}

/** Starts using `session` in state `s`: saved for the other tabs, sent with every call, refreshed on time. */
export function adopt(s: State, session: Session) {
  s.session = session;
  api.token = session.token;
  store.set(KEY, session);
  schedule(s);
}

/** A pair fresh from the server (Login): also the newest for refreshes. */
export async function adoptNew(s: State, session: Session) {
  await newest(session).catch(() => {});
  adopt(s, session);
}

function schedule(s: State) {
  const gen = ++s.refreshGen;
  if (s.session.refreshAt === undefined) return;
  later(
    s,
    () => gen === s.refreshGen && void renew(s).catch(() => later(s, () => gen === s.refreshGen && schedule(s), RETRY_MS)),
    s.session.refreshAt - Date.now(),
  );
}

let inFlight: Promise<boolean> | undefined;

/**
 * New tokens for the session of `s`, once for all the callers of this tab.
 * With `refused` (the token a call was refused with), nothing is done if the
 * session has moved on from it already. False when the server refused the
 * refresh: the page is then signed out. Throws on a network failure.
 */
export function renew(s: State, refused?: string): Promise<boolean> {
  if (s.stopped) return Promise.resolve(false);
  if (refused !== undefined && refused !== s.session.token) return Promise.resolve(true);
  if (!inFlight) {
    const from = s.session;
    const run = () => refreshOnce(s, from);
    const locked = navigator.locks ? navigator.locks.request(`chat.refresh.${s.session.userId}.${s.session.deviceId}`, run) : run();
    inFlight = locked.finally(() => {
      inFlight = undefined;
    });
  }
  return inFlight;
}

/** Under the lock: refreshes `mine`, unless another tab's newer pair was adopted meanwhile (storage event or IndexedDB). */
async function refreshOnce(s: State, mine: Session): Promise<boolean> {
  const last = s.session === mine ? await newest().catch(() => undefined) : undefined;
  if (s.stopped) return false;
  if (s.session !== mine) return true; // the storage event brought another tab's pair while this one waited
  if (last?.userId === mine.userId && last.deviceId === mine.deviceId && (last.refreshAt ?? 0) > (mine.refreshAt ?? 0)) {
    adopt(s, last); // another tab rotated the pair a moment ago
    return true;
  }
  if (!mine.refreshToken) return signOut(s, 'Signed out: your session expired. Log in again.');
  try {
    const r = await api.account.refreshSession({ refreshToken: mine.refreshToken });
    if (s.stopped) return false;
    await adoptNew(s, sessionFrom(r, mine.userName));
    return true;
  } catch (e) {
    if (codeOf(e) !== Code.Unauthenticated) throw e;
    return signOut(s, `Signed out: ${messageOf(e)}`);
  }
}

function signOut(s: State, reason: string): false {
  if (!s.stopped) sessionHooks.signedOut(reason);
  return false;
}

/** Before a call: refresh first when the token is due (the tab slept through the timer, say). */
async function due() {
  const s = app.state;
  if (s?.session.refreshAt !== undefined && Date.now() >= s.session.refreshAt) await renew(s);
}

api.session = { due, renew: (refused) => (app.state ? renew(app.state, refused) : Promise.resolve(false)) };

// Another tab refreshed (adopt its pair), signed out, or signed in as someone else.
window.addEventListener('storage', (ev) => {
  const s = app.state;
  if (ev.key !== KEY || !s) return;
  const next = store.get<Session | null>(KEY, null);
  if (next?.userId === s.session.userId && next.deviceId === s.session.deviceId) {
    if (next.token !== s.session.token) adopt(s, next);
  } else signOut(s, next ? '' : 'Signed out in another tab.');
});
