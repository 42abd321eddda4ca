// Rendering: draws the whole UI from the state. No user text ever goes through
// innerHTML (textContent only).
import { type Channel, ChannelKind, MemberRole } from '../../src/gen-es/chat/v1/chat_pb.js';
import { PresenceState } from '../../src/gen-es/chat/v1/common_pb.js';
import { messageOf } from './api.js';
import { el, type MessageAct, messageItem, nameOf, time } from './messageView.js';
import { blockButton, drawConvActions, drawInvitations, drawSettings } from './safetyView.js';
import { byId, type Conn, type Shown, type State } from './state.js';

export interface Actions {
  open(channelId: string): void;
  retry(channelId: string, body: string, clientMsgId: string): void;
  remove(channelId: string, member: string): void;
  message(m: Shown, act: MessageAct): void;
}

export const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel)!;
export const form = (sel: string) => $<HTMLFormElement>(sel);
export const field = (f: HTMLFormElement, name: string) => f.elements.namedItem(name) as HTMLInputElement;

const CONN_TEXT: Record<Conn, string> = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', offline: 'offline' };

/** The connection state in the header: connecting / live / reconnecting / offline. */
export function setConn(s: State | undefined, kind: Conn, text = CONN_TEXT[kind]) {
  if (s) s.conn = kind;
  $('#conn').dataset.state = kind;
  $('#conn').textContent = text;
}

/** Shows an error (or a message; '' clears it) under the conversation. */
export function showError(e: unknown) {
  $('#chat-error').textContent = typeof e === 'string' ? e : messageOf(e);
}

/** The other member of a direct channel. */
export const peerOf = (s: State, ch: Channel) => (ch.kind === ChannelKind.DIRECT ? ch.members.find((m) => m.userId !== s.session.userId) : undefined);
const titleOf = (s: State, ch: Channel) => ch.title || peerOf(s, ch)?.userName || s.invitees.get(ch.channelId) || 'chat';

function presenceText(s: State, userId: string): [string, string] {
  const p = s.presence.get(userId);
  if (!p) return ['', 'unknown'];
  if (p.state === PresenceState.ONLINE) return ['online', 'online'];
  return [p.lastActiveAtMs ? `offline · last seen ${time(p.lastActiveAtMs)}` : 'offline', 'offline'];
}

/** Redraws everything from state `s`. */
export function draw(s: State, on: Actions) {
  drawInvitations(s);
  drawChannels(s, on);
  drawSettings(s);
  const ch = s.current ? s.channels.get(s.current) : undefined;
  const composer = form('#composer');
  for (const c of composer.elements) (c as HTMLInputElement).disabled = !ch;
  $('#conv-title').textContent = ch ? titleOf(s, ch) : 'Pick a chat';
  const peer = ch && peerOf(s, ch);
  const invited = ch?.kind === ChannelKind.DIRECT && !peer;
  const [ptext, pstate] = peer ? presenceText(s, peer.userId) : [invited ? 'invited: not accepted yet' : '', ''];
  $('#peer-presence').textContent = ptext;
  $('#peer-presence').dataset.state = pstate;
  drawConvActions(s, ch, peer);
  drawGroup(s, ch, on);
  drawMessages(s, ch, on);
  drawComposeMode(s);
  const now = Date.now();
  const typers = [...(s.typing.get(s.current ?? '')?.entries() ?? [])].filter(([, until]) => until > now).map(([u]) => nameOf(s, u));
  $('#typing').textContent = typers.length ? `${typers.join(', ')} ${typers.length > 1 ? 'are' : 'is'} typing…` : '';
}

function drawChannels(s: State, on: Actions) {
  const newest = (a: Channel, b: Channel) =>
    b.lastMessageId > a.lastMessageId ? 1 : b.lastMessageId < a.lastMessageId ? -1 : Number(a.createdAtMs - b.createdAtMs);
  const list = [...s.channels.values()].sort(newest);
  $('#channels').replaceChildren(
    ...list.map((ch) => {
      const peer = peerOf(s, ch);
      const online = peer && s.presence.get(peer.userId)?.state === PresenceState.ONLINE;
      const btn = el(
        'button',
        { type: 'button', className: 'channel', onclick: () => on.open(ch.channelId) },
        el('span', { className: `dot${online ? ' online' : ''}${ch.kind === ChannelKind.GROUP ? ' group' : ''}` }),
        el('span', { className: 'name', textContent: titleOf(s, ch) }),
        ch.unreadCount > 0n ? el('span', { className: 'unread', textContent: String(ch.unreadCount) }) : null,
      );
      btn.setAttribute('aria-current', String(ch.channelId === s.current));
      const li = el('li', { className: 'channel-item' }, btn);
      li.dataset.channelId = ch.channelId;
      return li;
    }),
  );
}

const ROLE: Record<number, string> = { [MemberRole.OWNER]: 'owner', [MemberRole.ADMIN]: 'admin' };

/** A group's members (with remove buttons), the add form and the leave button. */
function drawGroup(s: State, ch: Channel | undefined, on: Actions) {
  const group = ch?.kind === ChannelKind.GROUP;
  $('#group-panel').hidden = !group;
  if (!group) return;
  const members = [...ch.members].sort((a, b) => a.userName.localeCompare(b.userName));
  $('#members').replaceChildren(
    ...members.map((m) => {
      const me = m.userId === s.session.userId;
      const remove = me
        ? null
        : el('button', {
            type: 'button',
            className: 'remove',
            textContent: '×',
            title: `remove ${m.userName}`,
            onclick: () => on.remove(ch.channelId, m.userId),
          });
      const li = el(
        'li',
        {},
        el('span', { className: 'name', textContent: me ? `${m.userName} (you)` : m.userName }),
        ROLE[m.role] ? ` · ${ROLE[m.role]}` : null,
        remove,
        me ? null : blockButton(s, m.userId, m.userName),
      );
      li.dataset.userName = m.userName;
      return li;
    }),
  );
}

function pendingItems(s: State, ch: Channel, on: Actions) {
  return [...s.pending].flatMap(([clientMsgId, p]) => {
    if (p.channelId !== ch.channelId) return [];
    const retry = p.error ? el('button', { type: 'button', textContent: 'retry', onclick: () => on.retry(p.channelId, p.body, clientMsgId) }) : null;
    const li = el(
      'li',
      { className: `msg mine pending${p.error ? ' failed' : ''}` },
      el('div', { className: 'meta', textContent: p.error ? `not sent: ${p.error}` : 'sending…' }, retry),
      el('div', { className: 'body', textContent: p.body }),
    );
    li.dataset.clientMsgId = clientMsgId;
    if (p.code !== undefined) li.dataset.code = String(p.code);
    return [li];
  });
}

/** Messages in id order (each once), a divider where the replay ended, then unsent ones. Keeps the scroll position. */
function drawMessages(s: State, ch: Channel | undefined, on: Actions) {
  const box = $('#messages');
  const fromBottom = box.scrollHeight - box.scrollTop;
  const atBottom = fromBottom - box.clientHeight < 40;
  const items: HTMLElement[] = [];
  if (ch) {
    const msgs = [...(s.messages.get(ch.channelId)?.values() ?? [])].sort(byId);
    const liveFrom = s.liveFrom.get(ch.channelId);
    const replayed = msgs.some((m) => m.source === 'replay');
    for (const m of msgs) {
      items.push(messageItem(s, ch, m, (act) => on.message(m, act)));
      if (replayed && m.id === liveFrom) items.push(el('li', { className: 'divider', textContent: '— caught up —' }));
    }
    if (s.older.get(ch.channelId) === 0n && msgs.length) items.unshift(el('li', { className: 'divider start', textContent: '— start of the conversation —' }));
    items.push(...pendingItems(s, ch, on));
  }
  box.replaceChildren(...items);
  if (s.keepFromBottom)
    box.scrollTop = box.scrollHeight - fromBottom; // older messages went in above
  else if (atBottom) box.scrollTop = box.scrollHeight;
  s.keepFromBottom = false;
}

/** Above the composer: the message being replied to or edited (× cancels). */
function drawComposeMode(s: State) {
  const c = s.compose?.channelId === s.current ? s.compose : undefined;
  const m = c && s.messages.get(c.channelId)?.get(c.id);
  $('#compose-mode').hidden = !m;
  if (!c || !m) return;
  $('#compose-mode').dataset.mode = c.mode;
  $('#compose-what').textContent = c.mode === 'edit' ? 'Editing your message' : `Replying to ${nameOf(s, m.senderUserId)}: ${m.body}`;
}
