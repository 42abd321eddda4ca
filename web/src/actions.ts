// What the user does: open a chat, page back through history, send, type, and
// manage groups. Each is one or two unary calls; what they change on the
// server comes back on the stream as well (and is deduplicated there).
import type { Channel } from '../../src/gen-es/chat/v1/chat_pb.js';
import { codeOf, messageOf } from './api.js';
import { deleteMessage, editMessage, toggleReaction } from './lifecycle.js';
import { api, app, inviteeKey, maxId, type Shown, type State, store, uuid } from './state.js';
import { addMessage, fillPresence, forgetChannel, loadChannelsSoon, markRead, movePointer, TRANSIENT } from './sync.js';
import { peerOf, showError } from './view.js';

const PAGE = 50;
const TYPING_IDLE_MS = 3000;

/** Shows a channel: marks it read and loads its newest page of history once. */
export async function openChannel(s: State, channelId: string) {
  stopTyping(s);
  s.current = channelId;
  showError('');
  markRead(s, channelId);
  if (!s.older.has(channelId)) await loadOlder(s, channelId);
  void seedTicks(s, channelId);
}

/**
 * Receipt frames come only when a pointer moves: a page that was away (or a
 * new browser) asks GetReceipts once for its newest own message of a 1:1 chat.
 */
async function seedTicks(s: State, channelId: string) {
  const ch = s.channels.get(channelId);
  const peer = ch && peerOf(s, ch);
  const mine = [...(s.messages.get(channelId)?.values() ?? [])].filter((m) => m.senderUserId === s.session.userId);
  const last = mine.reduce((a, m) => maxId(a, m.id), 0n); // bigint: no Math.max
  if (!peer || !last) return;
  try {
    const r = await api.chat.getReceipts({ channelId, messageId: last });
    if (r.receivedCount) movePointer(s, s.delivered, channelId, peer.userId, last);
    if (r.readCount) movePointer(s, s.receipts, channelId, peer.userId, last);
    app.render();
  } catch {
    // ticks stay as the frames left them
  }
}

/** "received by N of M, read by N of M" for one message of a group (GetReceipts), shown under it. */
export async function receiptInfo(s: State, channelId: string, messageId: bigint) {
  await attempt(async () => {
    const r = await api.chat.getReceipts({ channelId, messageId });
    const names = (ids: string[]) => (ids.length ? `: ${ids.map((id) => s.names.get(id) ?? id.slice(0, 8)).join(', ')}` : '');
    s.receiptInfo.set(
      messageId,
      `received by ${r.receivedCount} of ${r.memberCount}${names(r.receivedBy)} · read by ${r.readCount} of ${r.memberCount}${names(r.readBy)}`,
    );
  });
}

/** The composer's text went out: as an edit of the message being edited, or a new message (a reply, maybe). */
export function submitComposer(s: State, body: string) {
  const c = s.compose?.channelId === s.current ? s.compose : undefined;
  s.compose = undefined;
  if (c?.mode === 'edit') return void attempt(() => editMessage(c.channelId, c.id, body));
  void sendMessage(s, s.current!, body, undefined, c?.mode === 'reply' ? c.id : undefined);
}

/** A message action from its hover bar or reaction chips. */
export function messageAction(s: State, m: Shown, act: 'reply' | 'edit' | 'delete' | 'picker' | 'info' | `react:${string}`) {
  const { channelId, id } = m;
  if (act !== 'delete') s.confirmDelete = undefined;
  if (act === 'reply' || act === 'edit') s.compose = { mode: act, channelId, id };
  else if (act === 'picker') s.picker = s.picker === id ? undefined : id;
  else if (act === 'info') void receiptInfo(s, channelId, id);
  else if (act === 'delete' && s.confirmDelete !== id)
    s.confirmDelete = id; // a second click deletes
  else if (act === 'delete') {
    s.confirmDelete = undefined;
    void attempt(() => deleteMessage(channelId, id));
  } else {
    s.picker = undefined;
    void attempt(() => toggleReaction(channelId, m, act.slice('react:'.length)));
  }
  app.render();
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

/** SendMessage with a fresh client_msg_id (a first attempt), or the same one again for a retry (the server never stores a second copy). */
export async function sendMessage(s: State, channelId: string, body: string, retryOf?: string, replyToId?: bigint) {
  const clientMsgId = retryOf ?? uuid();
  s.pending.set(clientMsgId, { channelId, body, replyToId });
  app.render();
  try {
    const r = await api.chat.sendMessage({ channelId, clientMsgId, body, replyToId, firstAttempt: retryOf === undefined });
    if (s === app.state && r.message) addMessage(s, r.message, 'sent');
  } catch (e) {
    const p = s.pending.get(clientMsgId);
    if (p) Object.assign(p, { error: messageOf(e), code: codeOf(e), retryable: TRANSIENT.has(codeOf(e)) });
  }
  app.render();
}

/** The stream is live again: resend what failed on the network meanwhile. */
export function resendFailed(s: State) {
  for (const [id, p] of s.pending) if (p.error && p.retryable) void sendMessage(s, p.channelId, p.body, id, p.replyToId);
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
export async function adoptChannel(s: State, ch: Channel | undefined) {
  if (!ch || s !== app.state) return;
  s.channels.set(ch.channelId, ch);
  for (const m of ch.members) s.names.set(m.userId, m.userName);
  void fillPresence(s);
  await openChannel(s, ch.channelId);
}

/** Runs a user action; its error shows under the conversation. True when it succeeded. */
export async function attempt(fn: () => Promise<unknown>): Promise<boolean> {
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

export const openDirect = (s: State, peer: string) =>
  attempt(async () => {
    const { channel } = await api.chat.openDirect({ peer });
    // A stranger is invited, not added: remember whom this chat is with until they accept.
    if (channel && !peerOf(s, channel)) {
      s.invitees.set(channel.channelId, peer);
      store.set(inviteeKey(s.session), Object.fromEntries(s.invitees));
    }
    await adoptChannel(s, channel);
  });

/** `members`: user names or ids, separated by commas or spaces. */
export const createGroup = (s: State, title: string, members: string) =>
  attempt(async () => adoptChannel(s, (await api.chat.createGroup({ title, members: splitNames(members) })).channel));

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
