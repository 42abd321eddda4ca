// Rendering: draws the whole UI from the app state. No user text ever goes
// through innerHTML (textContent only).
import { GrpcError } from './grpcweb.js';
import { ChannelKind, PresenceState } from './proto.js';

export const $ = (sel) => document.querySelector(sel);

export function setConn(kind, text = kind === 'live' ? 'live' : kind === 'connecting' ? 'connecting…' : kind) {
  $('#conn').dataset.state = kind;
  $('#conn').textContent = text;
}

export function showError(e) {
  $('#chat-error').textContent = e instanceof GrpcError ? e.message : String(e?.message ?? e);
}

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};
const nameOf = (s, userId) => s.names.get(userId) ?? userId.slice(0, 8);
/** The other member of a direct channel. */
export const peerOf = (s, ch) => (ch.kind === ChannelKind.DIRECT ? ch.members.find((m) => m.userId !== s.session.userId) : undefined);
const titleOf = (s, ch) => ch.title || peerOf(s, ch)?.userName || 'chat';
const time = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

function presenceText(s, userId) {
  const p = s.presence.get(userId);
  if (!p) return ['', 'unknown'];
  if (p.state === PresenceState.ONLINE) return ['online', 'online'];
  return [p.lastActiveAtMs ? `offline · last seen ${time(p.lastActiveAtMs)}` : 'offline', 'offline'];
}

/** Redraws everything from state `s`; `on.open(channelId)` and `on.retry(channelId, body, clientMsgId)` are the actions. */
export function draw(s, on) {
  drawChannels(s, on);
  const ch = s.current ? s.channels.get(s.current) : undefined;
  const composer = $('#composer');
  composer.body.disabled = composer.querySelector('button').disabled = !ch;
  $('#conv-title').textContent = ch ? titleOf(s, ch) : 'Pick a chat';
  const peer = ch && peerOf(s, ch);
  const [ptext, pstate] = peer ? presenceText(s, peer.userId) : ['', ''];
  $('#peer-presence').textContent = ptext;
  $('#peer-presence').dataset.state = pstate;
  drawMessages(s, ch, on);
  const now = Date.now();
  const typers = [...(s.typing.get(s.current)?.entries() ?? [])].filter(([, until]) => until > now).map(([u]) => nameOf(s, u));
  $('#typing').textContent = typers.length ? `${typers.join(', ')} ${typers.length > 1 ? 'are' : 'is'} typing…` : '';
}

function drawChannels(s, on) {
  const list = [...s.channels.values()].sort((a, b) => b.lastMessageId - a.lastMessageId || a.createdAtMs - b.createdAtMs);
  $('#channels').replaceChildren(
    ...list.map((ch) => {
      const peer = peerOf(s, ch);
      const online = peer && s.presence.get(peer.userId)?.state === PresenceState.ONLINE;
      const btn = el(
        'button',
        { type: 'button', className: 'channel', onclick: () => on.open(ch.channelId) },
        el('span', { className: `dot${online ? ' online' : ''}`, hidden: !peer }),
        el('span', { className: 'name', textContent: titleOf(s, ch) }),
        ch.unreadCount > 0 ? el('span', { className: 'unread', textContent: String(ch.unreadCount) }) : null,
      );
      btn.setAttribute('aria-current', String(ch.channelId === s.current));
      const li = el('li', { className: 'channel-item' }, btn);
      li.dataset.channelId = ch.channelId;
      return li;
    }),
  );
}

/** Messages in id order (each once), a divider where the replay ended, then unsent ones. */
function drawMessages(s, ch, on) {
  const box = $('#messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const items = [];
  if (ch) {
    const msgs = [...(s.messages.get(ch.channelId)?.values() ?? [])].sort((a, b) => a.id - b.id);
    const liveFrom = s.liveFrom.get(ch.channelId);
    const replayed = msgs.some((m) => m.source === 'replay');
    for (const m of msgs) {
      const mine = m.senderUserId === s.session.userId;
      const li = el(
        'li',
        { className: `msg${mine ? ' mine' : ''} ${m.source}` },
        el('div', { className: 'meta', textContent: `${mine ? 'you' : nameOf(s, m.senderUserId)} · ${time(m.sentAtMs)}` }),
        el('div', { className: 'body', textContent: m.body }),
      );
      li.dataset.id = String(m.id);
      li.dataset.clientMsgId = m.clientMsgId;
      items.push(li);
      if (replayed && m.id === liveFrom) items.push(el('li', { className: 'divider', textContent: '— caught up —' }));
    }
    for (const [clientMsgId, p] of s.pending) {
      if (p.channelId !== ch.channelId) continue;
      const retry = p.error ? el('button', { type: 'button', textContent: 'retry', onclick: () => on.retry(p.channelId, p.body, clientMsgId) }) : null;
      const li = el(
        'li',
        { className: `msg mine pending${p.error ? ' failed' : ''}` },
        el('div', { className: 'meta', textContent: p.error ? `not sent: ${p.error}` : 'sending…' }, retry),
        el('div', { className: 'body', textContent: p.body }),
      );
      li.dataset.clientMsgId = clientMsgId;
      items.push(li);
    }
  }
  box.replaceChildren(...items);
  if (atBottom) box.scrollTop = box.scrollHeight;
}
