// Everything that arrives: one ChatService.Subscribe stream (replay, caught_up,
// then live), kept open across network drops by resuming from the cursors.
//
// Cursors: the stream is a complete, ordered log per channel, so the highest id
// it delivered is an exact resume point. Only stream messages move a cursor;
// messages from ListHistory or a SendMessage answer are shown (deduplicated by
// id) but never move it, or a reconnect could skip a message still in flight.
import {
  type DeliveryReceipt,
  MembershipChange,
  type MembershipEvent,
  type ReadReceipt,
  type ServerFrame,
  type TypingEvent,
} from '../../src/gen-es/chat/v1/chat_pb.js';
import type { Message } from '../../src/gen-es/chat/v1/common_pb.js';
import { Code, codeOf } from './api.js';
import { api, app, debounced, later, maxId, pause, type Shown, save, type Source, type State } from './state.js';
import { applyWaiting, isEntry, newerState, onEntry } from './lifecycle.js';
import { renew } from './session.js';
import { peerOf, setConn, showError } from './view.js';

const TYPING_SHOW_MS = 6000;
/** Calls that fail this way may succeed later (network, node draining): retried, never shown as final. */
export const TRANSIENT = new Set([Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.Aborted, Code.Canceled, Code.Internal]);

/** A heartbeat failing this way means the path to the node is broken (fetch failed, timed out, node gone). */
const NETWORK = new Set([Code.Unavailable, Code.Unknown, Code.DeadlineExceeded]);

/** Hooks for main.ts: the stream went live (resend what failed meanwhile). */
export const hooks = { live: (_s: State) => {} };

const cursorList = (s: State) => [...s.cursors].map(([channelId, lastMessageId]) => ({ channelId, lastMessageId }));
/** 0.3 s doubling to 10 s, with jitter so that a node's browsers do not come back all at once. */
const backoff = (attempt: number) => Math.min(10_000, 300 * 2 ** attempt) * (0.75 + Math.random() / 2);

/** Keeps one Subscribe stream open, resuming from the cursors after any failure, until the session ends. */
export async function streamLoop(s: State) {
  let everLive = false;
  while (!s.stopped) {
    if (!navigator.onLine) {
      setConn(s, 'offline');
      await pause(s, 30_000); // the 'online' event wakes it
      continue;
    }
    setConn(s, everLive ? 'reconnecting' : 'connecting');
    s.abort = new AbortController();
    s.caughtUp = false;
    const token = api.token;
    try {
      for await (const f of api.chat.subscribe({ cursors: cursorList(s) }, { signal: s.abort.signal })) {
        if (s.stopped) return;
        onFrame(s, f);
        everLive ||= s.caughtUp;
      }
    } catch (e) {
      if (s.stopped) return;
      // The token expired, or the device was signed out: refresh (refused: signed out) and resume.
      if (codeOf(e) === Code.Unauthenticated && !(await renew(s, token).catch(() => true))) return;
    }
    if (s.stopped) return;
    const wait = backoff(s.attempt++);
    setConn(s, navigator.onLine ? 'reconnecting' : 'offline', navigator.onLine ? `reconnecting in ${Math.ceil(wait / 1000)} s` : undefined);
    await pause(s, wait);
  }
}

/** The network is back: skip the rest of the backoff. */
export function onOnline(s: State) {
  s.attempt = 0;
  s.wake?.();
}

/** The browser knows it lost the network: drop the stream now rather than wait for TCP to notice. */
export function onOffline(s: State) {
  s.abort?.abort();
  setConn(s, 'offline');
}

/**
 * PresenceService.Heartbeat every interval the server asks for. A heartbeat that
 * fails on the network means the stream is probably dead too: restart it.
 */
export async function heartbeatLoop(s: State) {
  while (!s.stopped) {
    let interval = 5000;
    try {
      const r = await api.presence.heartbeat({}, { timeoutMs: 10_000 });
      interval = Math.max(100, Number(r.intervalMs) || interval);
    } catch (e) {
      if (codeOf(e) === Code.Unauthenticated) return;
      if (s.caughtUp && NETWORK.has(codeOf(e))) s.abort?.abort();
    }
    await wait(s, interval);
  }
}
/** A plain timer wait (not woken by the network coming back, unlike pause). */
const wait = (s: State, ms: number) => new Promise<void>((resolve) => later(s, resolve, ms));

function onFrame(s: State, { frame }: ServerFrame) {
  switch (frame.case) {
    case 'message':
      addMessage(s, frame.value, s.caughtUp ? 'live' : 'replay');
      break;
    case 'caughtUp':
      s.caughtUp = true;
      s.attempt = 0;
      for (const c of frame.value.cursors) {
        s.liveFrom.set(c.channelId, c.lastMessageId);
        moveCursor(s, c.channelId, c.lastMessageId);
      }
      setConn(s, 'live');
      hooks.live(s);
      ackSoon(s);
      break;
    case 'typing':
      onTyping(s, frame.value);
      break;
    case 'receipt':
      onReceipt(s, frame.value);
      break;
    case 'delivery':
      onDelivery(s, frame.value);
      break;
    case 'presence':
      s.presence.set(frame.value.userId, frame.value);
      break;
    case 'membership':
      onMembership(s, frame.value);
      break;
    case 'invitation':
      s.invitations.set(frame.value.channelId, frame.value);
      break;
    case 'reconnect':
      s.abort?.abort(); // the node is draining: streamLoop resumes from the cursors (on another node behind the balancer)
      break;
    case 'error':
      showError(frame.value.message);
      break;
    default:
      return; // send acks and send errors come on Connect only
  }
  app.render();
}

function onTyping(s: State, v: TypingEvent) {
  if (v.userId === s.session.userId) return;
  const m = s.typing.get(v.channelId) ?? new Map<string, number>();
  s.typing.set(v.channelId, m);
  if (v.typing) m.set(v.userId, Date.now() + TYPING_SHOW_MS);
  else m.delete(v.userId);
  later(s, app.render, TYPING_SHOW_MS + 50);
}

/** Another member read up to a message (read receipts); or another device of mine did (the unread count follows). */
function onReceipt(s: State, v: ReadReceipt) {
  if (v.userId === s.session.userId) {
    const ch = s.channels.get(v.channelId);
    if (!ch || v.lastReadMessageId <= ch.lastReadMessageId) return;
    ch.lastReadMessageId = v.lastReadMessageId;
    if (v.lastReadMessageId >= ch.lastMessageId) ch.unreadCount = 0n;
    else loadChannelsSoon(s);
    return;
  }
  movePointer(s, s.receipts, v.channelId, v.userId, v.lastReadMessageId);
}

/** A 1:1 peer's devices received the channel up to a message: the "delivered" tick. */
function onDelivery(s: State, v: DeliveryReceipt) {
  if (v.userId !== s.session.userId) movePointer(s, s.delivered, v.channelId, v.userId, v.lastDeliveredMessageId);
}

/** Moves another member's read or received pointer forward (never back). */
export function movePointer(s: State, pointers: Map<string, Map<string, bigint>>, channelId: string, userId: string, id: bigint) {
  const m = pointers.get(channelId) ?? new Map<string, bigint>();
  pointers.set(channelId, m);
  m.set(userId, maxId(m.get(userId) ?? 0n, id));
  saveSoon(s);
}

function onMembership(s: State, v: MembershipEvent) {
  if (v.userId === s.session.userId && v.change !== MembershipChange.JOINED) forgetChannel(s, v.channelId);
  if (v.change !== MembershipChange.JOINED) s.receipts.get(v.channelId)?.delete(v.userId);
  loadChannelsSoon(s);
}

/** The caller left or was removed: the channel and what was shown of it go away. */
export function forgetChannel(s: State, channelId: string) {
  s.channels.delete(channelId);
  s.messages.delete(channelId);
  s.older.delete(channelId);
  if (s.current === channelId) s.current = null;
}

/**
 * Adds a message once (dedupe by id); stream messages move the cursor, and
 * count as unread unless the chat is in view. Lifecycle entries (edit, delete,
 * reaction) change the message they name instead (lifecycle.ts).
 */
export function addMessage(s: State, m: Message, source: Source) {
  const byId = s.messages.get(m.channelId) ?? new Map<bigint, Shown>();
  s.messages.set(m.channelId, byId);
  const streamed = source === 'replay' || source === 'live';
  if (streamed) moveCursor(s, m.channelId, m.id);
  if (m.clientMsgId) s.pending.delete(m.clientMsgId);
  if (isEntry(m)) return streamed && onEntry(s, m);
  const known = byId.get(m.id);
  if (known) return newerState(known, m);
  const shown = { ...m, source };
  byId.set(m.id, shown);
  applyWaiting(s, shown);
  const ch = s.channels.get(m.channelId);
  if (!ch) return loadChannelsSoon(s);
  if (m.id <= ch.lastMessageId) return;
  ch.lastMessageId = m.id;
  const reading = s.current === m.channelId && document.visibilityState === 'visible';
  if (m.senderUserId !== s.session.userId && !reading) ch.unreadCount++;
  if (reading) markReadSoon(s);
}

function moveCursor(s: State, channelId: string, id: bigint) {
  if ((s.cursors.get(channelId) ?? 0n) >= id) return;
  s.cursors.set(channelId, id);
  saveSoon(s);
  if (s.caughtUp) ackSoon(s);
}

const saveSoon = debounced('save', 200, save);
export const loadChannelsSoon = debounced('channels', 100, (s) => void loadChannels(s).catch(showError));
/** AckDelivered keeps the server's copy of this device's cursors close, for a browser that loses its storage. */
const ackSoon = debounced('ack', 2000, (s) => {
  if (s.cursors.size) api.chat.ackDelivered({ cursors: cursorList(s) }).catch(() => {});
});
const markReadSoon = debounced('read', 300, (s) => s.current && markRead(s, s.current));

/** Marks the channel read up to its newest message (MarkRead), which clears its badge on every device. */
export function markRead(s: State, channelId: string) {
  const ch = s.channels.get(channelId);
  if (!ch) return;
  ch.unreadCount = 0n;
  if (ch.lastMessageId > ch.lastReadMessageId) {
    ch.lastReadMessageId = ch.lastMessageId;
    api.chat.markRead({ channelId, lastReadMessageId: ch.lastMessageId }).catch(() => {});
  }
  app.render();
}

/** ListChannels: the channel list with unread counts and members (names for display). */
export async function loadChannels(s: State) {
  const { channels, invitations } = await api.chat.listChannels({});
  if (s !== app.state) return;
  s.invitations = new Map(invitations.map((i) => [i.channelId, i]));
  const seen = new Set<string>();
  for (const ch of channels) {
    seen.add(ch.channelId);
    const known = s.channels.get(ch.channelId);
    // A message the stream delivered after the server counted stays counted.
    if (known && known.lastMessageId > ch.lastMessageId) Object.assign(ch, { lastMessageId: known.lastMessageId, unreadCount: known.unreadCount });
    s.channels.set(ch.channelId, ch);
    for (const m of ch.members) s.names.set(m.userId, m.userName);
  }
  for (const id of [...s.channels.keys()]) if (!seen.has(id)) forgetChannel(s, id);
  app.render();
  void fillPresence(s);
}

/**
 * Presence normally arrives on the stream (a snapshot after caught_up, then
 * transitions). A peer we have heard nothing about yet (a chat opened while
 * connected) is looked up once with GetPresence; a stream frame always wins.
 */
export async function fillPresence(s: State) {
  const ask = [...s.channels.values()]
    .map((ch) => peerOf(s, ch))
    .filter((p) => p && !s.presence.has(p.userId) && !s.presenceAsked.has(p.userId))
    .map((p) => p!.userId);
  if (!ask.length) return;
  for (const id of ask) s.presenceAsked.add(id);
  try {
    const { presences } = await api.presence.getPresence({ userIds: ask.slice(0, 500) });
    for (const p of presences) if (!s.presence.has(p.userId)) s.presence.set(p.userId, p);
    app.render();
  } catch {
    for (const id of ask) s.presenceAsked.delete(id);
  }
}
