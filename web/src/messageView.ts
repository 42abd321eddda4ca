// One message on screen: the quote it replies to, its body (or tombstone), an
// "edited" mark, reaction chips, ticks under my messages, and the action bar
// (reply, react, edit, delete) that shows on hover or focus. textContent only.
import { type Channel, ChannelKind, MemberRole } from '../../src/gen-es/chat/v1/chat_pb.js';
import type { Shown, State } from './state.js';

export type MessageAct = 'reply' | 'edit' | 'delete' | 'picker' | 'info' | `react:${string}`;
export const EMOJIS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];

export const el = (tag: string, props: Record<string, unknown> = {}, ...children: (Node | string | null | undefined | false)[]) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  return node;
};
export const nameOf = (s: State, userId: string) => s.names.get(userId) ?? userId.slice(0, 8);
export const time = (ms: bigint) => new Date(Number(ms)).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
const button = (className: string, textContent: string, onclick: () => void, title = '') =>
  el('button', { type: 'button', className, textContent, onclick, title });

/**
 * Ticks under my message. 1:1: "sent", "delivered" once the peer's devices
 * received it (DeliveryReceipt), "read" once the peer read it (ReadReceipt).
 * Groups: "read by N" from the read receipts; a click asks GetReceipts for who.
 */
function tick(s: State, ch: Channel, m: Shown): string {
  const reads = s.receipts.get(ch.channelId);
  const others = ch.members.filter((x) => x.userId !== s.session.userId);
  const read = others.filter((x) => (reads?.get(x.userId) ?? 0n) >= m.id).length;
  if (ch.kind === ChannelKind.GROUP) return read ? `read by ${read}` : '';
  if (read) return 'read';
  const peer = others[0];
  return peer && (s.delivered.get(ch.channelId)?.get(peer.userId) ?? 0n) >= m.id ? 'delivered' : 'sent';
}

/** What a reply quotes: the message it answers as shown now (deleted or not loaded say so). */
function quote(s: State, m: Shown) {
  if (m.replyToId === undefined) return null;
  const q = s.messages.get(m.channelId)?.get(m.replyToId);
  const text = !q ? 'an earlier message' : q.state?.deleted ? 'a deleted message' : `${nameOf(s, q.senderUserId)}: ${q.body}`;
  const node = el('div', { className: 'quote', textContent: text });
  node.dataset.replyTo = String(m.replyToId);
  return node;
}

function reactions(m: Shown, act: (a: MessageAct) => void) {
  const list = m.state?.reactions ?? [];
  if (!list.length) return null;
  return el(
    'div',
    { className: 'reactions' },
    ...list.map((r) => {
      const chip = button(`reaction${r.me ? ' mine' : ''}`, `${r.emoji} ${r.count}`, () => act(`react:${r.emoji}`), r.me ? 'take back' : 'react too');
      chip.dataset.emoji = r.emoji;
      return chip;
    }),
  );
}

/** Edit and delete: my own messages; delete also any message for a group's owner and admins. */
function actionBar(s: State, ch: Channel, m: Shown, act: (a: MessageAct) => void) {
  if (m.state?.deleted) return null;
  const mine = m.senderUserId === s.session.userId;
  const role = ch.members.find((x) => x.userId === s.session.userId)?.role;
  const moderator = ch.kind === ChannelKind.GROUP && (role === MemberRole.OWNER || role === MemberRole.ADMIN);
  const confirming = s.confirmDelete === m.id;
  return el(
    'div',
    { className: 'actions' },
    button('act reply', '↩ reply', () => act('reply')),
    button('act react', '☺ react', () => act('picker')),
    mine && button('act edit', '✎ edit', () => act('edit')),
    (mine || moderator) && button(`act delete${confirming ? ' confirm' : ''}`, confirming ? 'delete for everyone?' : '🗑 delete', () => act('delete')),
    s.picker === m.id && el('div', { className: 'picker' }, ...EMOJIS.map((e) => button('emoji', e, () => act(`react:${e}`)))),
  );
}

export function messageItem(s: State, ch: Channel, m: Shown, act: (a: MessageAct) => void) {
  const mine = m.senderUserId === s.session.userId;
  const deleted = !!m.state?.deleted;
  const edited = !deleted && (m.state?.editCount ?? 0) > 0;
  const ticks = mine && !deleted ? tick(s, ch, m) : '';
  const receipt = mine && el('div', { className: 'receipt', textContent: ticks, onclick: () => ch.kind === ChannelKind.GROUP && act('info') });
  if (receipt) receipt.dataset.tick = ticks.split(' ')[0];
  const li = el(
    'li',
    { className: `msg${mine ? ' mine' : ''}${deleted ? ' deleted' : ''} ${m.source}` },
    el(
      'div',
      { className: 'meta', textContent: `${mine ? 'you' : nameOf(s, m.senderUserId)} · ${time(m.sentAtMs)}` },
      edited && el('span', { className: 'edited', textContent: ' · edited' }),
    ),
    quote(s, m),
    el('div', { className: `body${deleted ? ' tombstone' : ''}`, textContent: deleted ? 'message deleted' : m.body }),
    reactions(m, act),
    receipt,
    s.receiptInfo.has(m.id) && el('div', { className: 'receipt-info', textContent: s.receiptInfo.get(m.id) }),
    actionBar(s, ch, m, act),
  );
  li.dataset.id = String(m.id);
  li.dataset.clientMsgId = m.clientMsgId;
  return li;
}
