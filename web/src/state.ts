// The browser client's state, kept in one object per signed-in session and
// redrawn from by view.ts. Ids are uint64 on the wire, so bigint here.
import type { Device } from '../../src/gen-es/chat/v1/account_pb.js';
import type { Channel, Invitation } from '../../src/gen-es/chat/v1/chat_pb.js';
import type { Message, Presence } from '../../src/gen-es/chat/v1/common_pb.js';
import type { BlockedUser } from '../../src/gen-es/chat/v1/safety_pb.js';
import { chatApi } from './api.js';

/** One signed-in device, as kept in localStorage ('chat.session') and shared by this browser's tabs. */
export interface Session {
  token: string;
  /** Exchanged once for a new pair (AccountService.RefreshSession); absent in a session saved by an older client. */
  refreshToken?: string;
  /** When to refresh, on this browser's clock (ms). */
  refreshAt?: number;
  userId: string;
  userName: string;
  deviceId: string;
}

/** Where a shown message came from: the stream ('replay' before caught_up, 'live' after) or a unary answer. */
export type Source = 'replay' | 'live' | 'history' | 'sent';
export type Shown = Message & { source: Source };
/** A send not yet answered; `error` set when it failed (a retry reuses the client_msg_id: never a second copy). */
export interface Pending {
  channelId: string;
  body: string;
  replyToId?: bigint;
  error?: string;
  /** The failed call's status code (shown on the item as data-code). */
  code?: number;
  retryable?: boolean;
}
export type Conn = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface State {
  session: Session;
  channels: Map<string, Channel>;
  names: Map<string, string>;
  messages: Map<string, Map<bigint, Shown>>;
  pending: Map<string, Pending>;
  presence: Map<string, Presence>;
  presenceAsked: Set<string>;
  /** channelId -> userId -> typing shown until (ms). */
  typing: Map<string, Map<string, number>>;
  /** channelId -> userId -> highest message id that member has read (other members, from receipts). */
  receipts: Map<string, Map<string, bigint>>;
  /** channelId -> userId -> highest message id that member's devices received (1:1 peers, from DeliveryReceipt frames). */
  delivered: Map<string, Map<string, bigint>>;
  /** channelId -> lifecycle entries whose message is not shown yet (see lifecycle.ts). */
  waiting: Map<string, Message[]>;
  /** The composer replies to, or edits, a message. */
  compose?: { mode: 'reply' | 'edit'; channelId: string; id: bigint };
  /** The message whose emoji picker is open; the one whose delete awaits a second click. */
  picker?: bigint;
  confirmDelete?: bigint;
  /** messageId -> "received by N of M, read by N of M" (GetReceipts, groups). */
  receiptInfo: Map<bigint, string>;
  /** channelId -> the stream's cursor at caught_up: where replay ended. */
  liveFrom: Map<string, bigint>;
  /** channelId -> before_id of the next older page (0n: none left); absent until the first page is loaded. */
  older: Map<string, bigint>;
  /** channelId -> highest id the stream delivered: the resume point, also kept in localStorage. */
  cursors: Map<string, bigint>;
  /** Pending invitations to me, by channel id (ListChannels, then `invitation` frames). */
  invitations: Map<string, Invitation>;
  /** channelId -> muted until (ms): this device's record of its MuteChannel calls (the server does not list mutes). */
  mutes: Map<string, number>;
  /** channelId -> the name I asked for, for my direct chats whose peer has not accepted yet (not a member: no name from the server). */
  invitees: Map<string, string>;
  /** The settings panel's lists, loaded when it opens (ListBlocked, ListDevices). */
  blocked: BlockedUser[];
  devices: Device[];
  settingsOpen: boolean;
  current: string | null;
  conn: Conn;
  caughtUp: boolean;
  /** Failed Subscribe attempts since the stream was last live (backoff exponent). */
  attempt: number;
  stopped: boolean;
  abort?: AbortController;
  /** Ends the current backoff wait early (the network is back). */
  wake?: () => void;
  timers: Set<ReturnType<typeof setTimeout>>;
  /** Bumped by each refresh schedule: an older refresh timer does nothing. */
  refreshGen: number;
  /** Debounced jobs in flight, by name. */
  busy: Set<string>;
  typingSentAt: number;
  typingChannel: string;
  typingIdle?: ReturnType<typeof setTimeout>;
  /** The next draw keeps the distance to the bottom of the message list (older messages were prepended). */
  keepFromBottom: boolean;
}

/** The grpc-web clients of this page (same origin as the page). */
export const api = chatApi();

/** The signed-in session's state (undefined when signed out) and the redraw hook set by main.ts. */
export const app: { state?: State; render: () => void } = { render: () => {} };

export const store = {
  get<T>(key: string, fallback: T): T {
    try {
      return (JSON.parse(localStorage.getItem(key) ?? 'null') as T) ?? fallback;
    } catch {
      return fallback;
    }
  },
  set: (key: string, value: unknown) => localStorage.setItem(key, JSON.stringify(value)),
  del: (key: string) => localStorage.removeItem(key),
};

const cursorKey = (s: Session) => `chat.cursors.${s.userId}.${s.deviceId}`;
export const muteKey = (s: Session) => `chat.mutes.${s.userId}`;
export const inviteeKey = (s: Session) => `chat.invitees.${s.userId}`;
const receiptKey = (s: Session, kind: string) => `chat.${kind}.${s.userId}`;
type Pointers = Map<string, Map<string, bigint>>;
const fromIds = (m: Map<string, bigint>) => Object.fromEntries([...m].map(([k, v]) => [k, String(v)]));
const toIds = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k, BigInt(v)]));
const loadPointers = (session: Session, kind: string): Pointers =>
  new Map(Object.entries(store.get<Record<string, Record<string, string>>>(receiptKey(session, kind), {})).map(([ch, m]) => [ch, toIds(m)]));

/** Persists the cursors and the receipts seen (as decimal strings: bigint has no JSON form). */
export function save(s: State) {
  store.set(cursorKey(s.session), fromIds(s.cursors));
  store.set(receiptKey(s.session, 'receipts'), Object.fromEntries([...s.receipts].map(([ch, m]) => [ch, fromIds(m)])));
  store.set(receiptKey(s.session, 'delivered'), Object.fromEntries([...s.delivered].map(([ch, m]) => [ch, fromIds(m)])));
}

export function freshState(session: Session): State {
  return {
    session,
    channels: new Map(),
    names: new Map(),
    messages: new Map(),
    pending: new Map(),
    presence: new Map(),
    presenceAsked: new Set(),
    typing: new Map(),
    receipts: loadPointers(session, 'receipts'),
    delivered: loadPointers(session, 'delivered'),
    waiting: new Map(),
    receiptInfo: new Map(),
    liveFrom: new Map(),
    older: new Map(),
    cursors: toIds(store.get(cursorKey(session), {})),
    invitations: new Map(),
    mutes: new Map(Object.entries(store.get<Record<string, number>>(muteKey(session), {}))),
    invitees: new Map(Object.entries(store.get<Record<string, string>>(inviteeKey(session), {}))),
    blocked: [],
    devices: [],
    settingsOpen: false,
    current: null,
    conn: 'connecting',
    caughtUp: false,
    attempt: 0,
    stopped: false,
    timers: new Set(),
    refreshGen: 0,
    busy: new Set(),
    typingSentAt: 0,
    typingChannel: '',
    keepFromBottom: false,
  };
}

export function uuid(): string {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const maxId = (a: bigint, b: bigint) => (a > b ? a : b);
export const byId = (a: { id: bigint }, b: { id: bigint }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Runs `fn` after `ms` unless the session has ended meanwhile. */
export function later(s: State, fn: () => void, ms: number) {
  const t = setTimeout(() => {
    s.timers.delete(t);
    if (!s.stopped) fn();
  }, ms);
  s.timers.add(t);
}

/** Waits `ms`, or less when `s.wake()` is called (the network came back). */
export const pause = (s: State, ms: number) =>
  new Promise<void>((resolve) => {
    s.wake = resolve;
    later(s, resolve, ms);
  });

/** Runs `fn(s)` once, `ms` after the first of a burst of calls. */
export const debounced =
  (name: string, ms: number, fn: (s: State) => void) =>
  (s: State): void => {
    if (s.busy.has(name)) return;
    s.busy.add(name);
    later(
      s,
      () => {
        s.busy.delete(name);
        fn(s);
      },
      ms,
    );
  };
