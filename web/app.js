// The browser client: ChatService.Subscribe (server stream) for everything that
// arrives, unary calls for everything sent. No framework; state lives here and
// render() redraws from it.
//
// Cursors: the stream is a complete, ordered log per channel, so the highest id
// it delivered is an exact resume point. Only stream messages move a cursor;
// messages from ListHistory or a SendMessage response are shown (deduplicated by
// id) but never move it, or a reconnect could skip a message still in flight.
import { ChatApi } from './api.js';
import { Code, GrpcError } from './grpcweb.js';
import { $, draw, peerOf, setConn, showError } from './view.js';

const api = new ChatApi('');
const TYPING_SHOW_MS = 6000;
const TYPING_IDLE_MS = 3000;

const store = {
  get(key, fallback) {
    try {
      return JSON.parse(localStorage.getItem(key)) ?? fallback;
    } catch {
      return fallback;
    }
  },
  set: (key, value) => localStorage.setItem(key, JSON.stringify(value)),
  del: (key) => localStorage.removeItem(key),
};

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function defaultDeviceId() {
  let id = localStorage.getItem('chat.deviceId');
  if (!id) localStorage.setItem('chat.deviceId', (id = `web-${uuid().slice(0, 8)}`));
  return id;
}

let state;
function freshState(session) {
  return {
    session, // { token, userId, userName, deviceId }
    channels: new Map(), // channelId -> Channel (unreadCount kept up to date)
    names: new Map(), // userId -> userName
    messages: new Map(), // channelId -> Map(id -> { ...Message, source })
    pending: new Map(), // clientMsgId -> { channelId, body, error? }
    presence: new Map(), // userId -> Presence
    presenceAsked: new Set(), // userIds looked up with GetPresence
    typing: new Map(), // channelId -> Map(userId -> expiresAt)
    liveFrom: new Map(), // channelId -> highest id replayed before caught_up
    history: new Set(), // channels whose recent history was loaded
    cursorKey: `chat.cursors.${session.userId}.${session.deviceId}`,
    cursors: store.get(`chat.cursors.${session.userId}.${session.deviceId}`, {}),
    current: null,
    caughtUp: false,
    stopped: false,
    abort: null,
    timers: new Set(),
    typingSentAt: 0,
    typingIdle: null,
  };
}

// ---------- session ----------

async function start(session) {
  state = freshState(session);
  api.token = session.token;
  $('#login-view').hidden = true;
  $('#chat-view').hidden = false;
  $('#logout').hidden = false;
  $('#me').textContent = `${session.userName} · ${session.deviceId}`;
  try {
    await loadChannels();
  } catch (e) {
    if (e.code === Code.UNAUTHENTICATED) return logout('Your session expired: log in again.');
    showError(e);
  }
  void streamLoop(state);
  void heartbeatLoop(state);
  render();
}

function logout(message = '') {
  if (state) {
    state.stopped = true;
    state.abort?.abort();
    for (const t of state.timers) clearTimeout(t);
  }
  state = undefined;
  store.del('chat.session');
  setConn('offline');
  $('#chat-view').hidden = true;
  $('#logout').hidden = true;
  $('#me').textContent = '';
  $('#login-view').hidden = false;
  $('#login-error').textContent = message;
  $('#login-form').device.value = defaultDeviceId();
}

const later = (s, fn, ms) => {
  const t = setTimeout(() => {
    s.timers.delete(t);
    if (!s.stopped) fn();
  }, ms);
  s.timers.add(t);
};
const sleep = (s, ms) => new Promise((resolve) => later(s, resolve, ms));

/** Keeps one Subscribe stream open, resuming from the stored cursors after any failure. */
async function streamLoop(s) {
  let attempt = 0;
  while (!s.stopped) {
    s.abort = new AbortController();
    s.caughtUp = false;
    setConn('connecting');
    const cursors = Object.entries(s.cursors).map(([channelId, lastMessageId]) => ({ channelId, lastMessageId }));
    try {
      await api.subscribe(cursors, (f) => onFrame(s, f, () => (attempt = 0)), s.abort.signal);
    } catch (e) {
      if (s.stopped) return;
      if (e.code === Code.UNAUTHENTICATED) return logout('Your session expired: log in again.');
    }
    if (s.stopped) return;
    const wait = Math.min(10_000, 300 * 2 ** attempt++) * (0.75 + Math.random() / 2);
    setConn('reconnecting', `reconnecting in ${Math.ceil(wait / 1000)} s`);
    await sleep(s, wait);
  }
}

/** PresenceService.Heartbeat every interval the server asks for. */
async function heartbeatLoop(s) {
  while (!s.stopped) {
    let interval = 5000;
    try {
      interval = Math.max(100, (await api.heartbeat()) || interval);
    } catch (e) {
      if (e.code === Code.UNAUTHENTICATED) return;
    }
    await sleep(s, interval);
  }
}

async function loadChannels() {
  const s = state;
  const list = await api.listChannels();
  if (s !== state) return;
  const seen = new Set();
  for (const ch of list) {
    seen.add(ch.channelId);
    s.channels.set(ch.channelId, ch);
    for (const m of ch.members) s.names.set(m.userId, m.userName);
  }
  for (const id of s.channels.keys()) if (!seen.has(id)) s.channels.delete(id);
  if (s.current && !s.channels.has(s.current)) s.current = null;
  render();
  void fillPresence(s);
}

/**
 * Presence normally arrives on the stream (a snapshot after caught_up, then
 * transitions). A peer we have heard nothing about yet (a chat opened while
 * connected) is looked up once with GetPresence; a stream frame always wins.
 */
async function fillPresence(s) {
  const ask = [...s.channels.values()]
    .map((ch) => peerOf(s, ch))
    .filter((p) => p && !s.presence.has(p.userId) && !s.presenceAsked.has(p.userId))
    .map((p) => p.userId);
  if (!ask.length) return;
  for (const id of ask) s.presenceAsked.add(id);
  try {
    for (const p of await api.getPresence(ask.slice(0, 500))) if (s === state && !s.presence.has(p.userId)) s.presence.set(p.userId, p);
    render();
  } catch {
    for (const id of ask) s.presenceAsked.delete(id);
  }
}

// ---------- incoming frames ----------

function onFrame(s, { case: kind, value: v }, onCaughtUp) {
  if (s !== state) return;
  switch (kind) {
    case 'message':
      addMessage(v, s.caughtUp ? 'live' : 'replay');
      break;
    case 'caughtUp':
      s.caughtUp = true;
      onCaughtUp();
      for (const c of v.cursors) {
        s.liveFrom.set(c.channelId, c.lastMessageId);
        moveCursor(c.channelId, c.lastMessageId);
      }
      setConn('live');
      ackSoon(s);
      break;
    case 'typing': {
      if (v.userId === s.session.userId) break;
      const m = s.typing.get(v.channelId) ?? new Map();
      s.typing.set(v.channelId, m);
      if (v.typing) m.set(v.userId, Date.now() + TYPING_SHOW_MS);
      else m.delete(v.userId);
      later(s, render, TYPING_SHOW_MS + 50);
      break;
    }
    case 'presence':
      s.presence.set(v.userId, v);
      break;
    case 'membership':
      if (v.userId === s.session.userId && v.change !== 1) s.channels.delete(v.channelId);
      loadChannelsSoon(s);
      break;
    case 'reconnect':
      // The node is draining: drop this stream now; streamLoop resumes from the cursors.
      s.abort?.abort();
      break;
    case 'error':
      showError(new GrpcError(v.code, v.message));
      break;
    default:
      return; // receipts, send acks (Connect only)
  }
  render();
}

/** Adds a message once (dedupe by id). `source`: 'replay' | 'live' (stream), 'history' | 'sent' (unary). */
function addMessage(m, source) {
  const s = state;
  const byId = s.messages.get(m.channelId) ?? new Map();
  s.messages.set(m.channelId, byId);
  if (source === 'replay' || source === 'live') moveCursor(m.channelId, m.id);
  if (m.clientMsgId) s.pending.delete(m.clientMsgId);
  if (byId.has(m.id)) return;
  byId.set(m.id, { ...m, source });
  const ch = s.channels.get(m.channelId);
  if (!ch) return loadChannelsSoon(s);
  if (m.id > ch.lastMessageId) {
    ch.lastMessageId = m.id;
    const reading = s.current === m.channelId && document.visibilityState === 'visible';
    if (m.senderUserId !== s.session.userId && !reading) ch.unreadCount++;
    if (reading) markReadSoon(s, m.channelId);
  }
}

function moveCursor(channelId, id) {
  const s = state;
  if ((s.cursors[channelId] ?? 0) >= id) return;
  s.cursors[channelId] = id;
  store.set(s.cursorKey, s.cursors);
  if (s.caughtUp) ackSoon(s);
}

const debounced =
  (key, ms, fn) =>
  (s, ...args) => {
    if (s[key]) return;
    s[key] = true;
    later(
      s,
      () => {
        s[key] = false;
        fn(s, ...args);
      },
      ms,
    );
  };
const loadChannelsSoon = debounced('loadingChannels', 100, () => loadChannels().catch(showError));
/** AckDelivered keeps the server's copy of this device's cursors close, for a browser that loses its storage. */
const ackSoon = debounced('acking', 2000, (s) => {
  const cursors = Object.entries(s.cursors).map(([channelId, lastMessageId]) => ({ channelId, lastMessageId }));
  if (cursors.length) api.ackDelivered(cursors).catch(() => {});
});
const markReadSoon = debounced('marking', 300, (s, channelId) => markRead(s, channelId));

function markRead(s, channelId) {
  const ch = s.channels.get(channelId);
  if (!ch) return;
  ch.unreadCount = 0;
  if (ch.lastMessageId > ch.lastReadMessageId) {
    ch.lastReadMessageId = ch.lastMessageId;
    api.markRead(channelId, ch.lastMessageId).catch(() => {});
  }
  render();
}

// ---------- actions ----------

async function openChannel(channelId) {
  const s = state;
  stopTyping(s);
  s.current = channelId;
  $('#chat-error').textContent = '';
  markRead(s, channelId);
  $('#composer').body.focus();
  if (s.history.has(channelId)) return;
  s.history.add(channelId);
  try {
    const page = await api.history(channelId, 0, 50);
    if (s !== state) return;
    for (const m of page.messages) addMessage(m, 'history');
    markRead(s, channelId);
  } catch (e) {
    s.history.delete(channelId);
    showError(e);
  }
}

async function sendMessage(channelId, body, clientMsgId = uuid()) {
  const s = state;
  s.pending.set(clientMsgId, { channelId, body });
  render();
  try {
    const r = await api.send(channelId, clientMsgId, body);
    if (s === state) addMessage(r.message, 'sent');
  } catch (e) {
    const p = s.pending.get(clientMsgId);
    if (p) p.error = e.message; // retry resends the same client_msg_id: never a second copy
  }
  render();
}

function onComposerInput(s, text) {
  if (!s.current) return;
  clearTimeout(s.typingIdle);
  if (!text) return stopTyping(s);
  if (Date.now() - s.typingSentAt > TYPING_IDLE_MS) {
    s.typingSentAt = Date.now();
    s.typingChannel = s.current;
    api.setTyping(s.current, true).catch(() => {});
  }
  s.typingIdle = setTimeout(() => stopTyping(s), TYPING_IDLE_MS);
}

function stopTyping(s) {
  clearTimeout(s.typingIdle);
  if (!s.typingSentAt) return;
  s.typingSentAt = 0;
  api.setTyping(s.typingChannel, false).catch(() => {});
}

// ---------- rendering ----------

let renderQueued = false;
/** Coalesces many state changes (a replay) into one redraw. */
function render() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    if (state) draw(state, { open: openChannel, retry: sendMessage });
  }, 0);
}

// ---------- wiring ----------

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const deviceId = f.device.value.trim() || defaultDeviceId();
  localStorage.setItem('chat.deviceId', deviceId);
  $('#login-error').textContent = '';
  try {
    if (ev.submitter?.id === 'register') await api.register(f.user.value.trim(), f.password.value);
    const r = await api.login(f.user.value.trim(), f.password.value, deviceId);
    const session = { token: r.accessToken, userId: r.userId, userName: f.user.value.trim(), deviceId: r.deviceId };
    store.set('chat.session', session);
    f.password.value = '';
    await start(session);
  } catch (e) {
    $('#login-error').textContent = e.message;
  }
});
$('#logout').addEventListener('click', () => logout());

$('#direct-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  try {
    const ch = await api.openDirect(f.peer.value.trim());
    state.channels.set(ch.channelId, ch);
    for (const m of ch.members) state.names.set(m.userId, m.userName);
    f.peer.value = '';
    void fillPresence(state);
    await openChannel(ch.channelId);
  } catch (e) {
    showError(e);
  }
  render();
});

$('#composer').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = ev.target.body;
  const body = input.value.trim();
  if (!body || !state?.current) return;
  input.value = '';
  stopTyping(state);
  void sendMessage(state.current, body);
});
$('#composer').body.addEventListener('input', (ev) => state && onComposerInput(state, ev.target.value.trim()));
document.addEventListener('visibilitychange', () => state?.current && document.visibilityState === 'visible' && markRead(state, state.current));
window.addEventListener('pagehide', () => state && stopTyping(state));

const saved = store.get('chat.session', null);
if (saved?.token) void start(saved);
else logout();
