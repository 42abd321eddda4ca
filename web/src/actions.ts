// What the user does: open a chat, page back through history, send, type, and
// manage groups. Each is one or two unary calls; what they change on the
// server comes back on the stream as well (and is deduplicated there).
import type { Channel } from '../../src/gen-es/chat/v1/chat_pb.js';
import { codeOf, messageOf } from './api.js';
import { addMessage, fillPresence, forgetChannel, loadChannelsSoon, markRead, TRANSIENT } from './sync.js';
import { api, app, uuid, type State } from './state.js';
import { showError } from './view.js';

const PAGE = 50;
const TYPING_IDLE_MS = 3000;

/** Shows a channel: marks it read and loads its newest page of history once. */
export async function openChannel(s: State, channelId: string) {
  stopTyping(s);
  s.current = channelId;
  showError('');
  markRead(s, channelId);
  if (!s.older.has(channelId)) await loadOlder(s, channelId);
}

/** ListHistory before the oldest shown message (scrolling up); the first call loads the newest page. */
export async function loadOlder(s: State, channelId: string) {
  const before = s.older.get(channelId);
  if (before === 0n || s.busy.has(`older:${channelId}`)) return; // no more, or a page is on its way
  s.busy.add(`older:${channelId}`);
  try {
    const page = await api.chat.listHistory({ channelId, beforeId: before ?? 0n, limit: PAGE });
    if (s !== app.state || !s.channels.has(channelId)) return;
    for (const m of page.messages) addMessage(s, m, 'history');
    s.older.set(channelId, page.nextBeforeId);
    s.keepFromBottom = before !== undefined;
    if (before === undefined) markRead(s, channelId);
  } catch (e) {
    showError(e);
  } finally {
    s.busy.delete(`older:${channelId}`);
    app.render();
  }
}

/** SendMessage with a fresh client_msg_id, or the same one again for a retry (the server never stores a second copy). */
export async function sendMessage(s: State, channelId: string, body: string, clientMsgId = uuid()) {
  s.pending.set(clientMsgId, { channelId, body });
  app.render();
  try {
    const r = await api.chat.sendMessage({ channelId, clientMsgId, body });
    if (s === app.state && r.message) addMessage(s, r.message, 'sent');
  } catch (e) {
    const p = s.pending.get(clientMsgId);
    if (p) Object.assign(p, { error: messageOf(e), retryable: TRANSIENT.has(codeOf(e)) });
  }
  app.render();
}

/** The stream is live again: resend what failed on the network meanwhile. */
export function resendFailed(s: State) {
  for (const [id, p] of s.pending) if (p.error && p.retryable) void sendMessage(s, p.channelId, p.body, id);
}

/** SetTyping(true) at most every few seconds while typing, SetTyping(false) when idle or sent. */
export function onComposerInput(s: State, text: string) {
  if (!s.current) return;
  clearTimeout(s.typingIdle);
  if (!text) return stopTyping(s);
  if (Date.now() - s.typingSentAt > TYPING_IDLE_MS) {
    s.typingSentAt = Date.now();
    s.typingChannel = s.current;
    api.chat.setTyping({ channelId: s.current, typing: true }).catch(() => {});
  }
  s.typingIdle = setTimeout(() => stopTyping(s), TYPING_IDLE_MS);
}

export function stopTyping(s: State) {
  clearTimeout(s.typingIdle);
  if (!s.typingSentAt) return;
  s.typingSentAt = 0;
  api.chat.setTyping({ channelId: s.typingChannel, typing: false }).catch(() => {});
}

/** Adds a channel the server just returned, then shows it. */
async function adopt(s: State, ch: Channel | undefined) {
  if (!ch || s !== app.state) return;
  s.channels.set(ch.channelId, ch);
  for (const m of ch.members) s.names.set(m.userId, m.userName);
  void fillPresence(s);
  await openChannel(s, ch.channelId);
}

/** Runs a user action; its error shows under the conversation. True when it succeeded. */
async function attempt(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (e) {
    showError(e);
    return false;
  } finally {
    app.render();
  }
}

export const openDirect = (s: State, peer: string) => attempt(async () => adopt(s, (await api.chat.openDirect({ peer })).channel));

/** `members`: user names or ids, separated by commas or spaces. */
export const createGroup = (s: State, title: string, members: string) =>
  attempt(async () => adopt(s, (await api.chat.createGroup({ title, members: splitNames(members) })).channel));

export const addMembers = (s: State, channelId: string, members: string) =>
  attempt(async () => {
    await api.chat.addMembers({ channelId, members: splitNames(members) });
    loadChannelsSoon(s);
  });

export const removeMember = (s: State, channelId: string, member: string) =>
  attempt(async () => {
    await api.chat.removeMember({ channelId, member });
    loadChannelsSoon(s);
  });

export const leaveChannel = (s: State, channelId: string) =>
  attempt(async () => {
    await api.chat.leaveChannel({ channelId });
    forgetChannel(s, channelId);
  });

const splitNames = (text: string) => text.split(/[\s,]+/).filter(Boolean);
