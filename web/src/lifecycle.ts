// Message lifecycle: edits, deletes and reactions are entries of the channel's
// log (kinds EDIT, DELETE, REACTION), each with its own id, so they arrive on
// the stream in order like messages and move the cursor like them. Each is
// applied to the message it changes, unless that message's state already
// reflects it (entry id <= state.last_change_id, as in a history page fetched
// after the change). An entry whose message is not shown yet waits, so that a
// history page that answers later does not miss it. Unary answers (EditMessage,
// React...) are not applied: the stream delivers the entry in order, and an
// entry applied out of order could hide an earlier one by last_change_id.
import { create } from '@bufbuild/protobuf';
import { type Message, MessageKind, MessageStateSchema, ReactionCountSchema } from '../../src/gen-es/chat/v1/common_pb.js';
import { api, type Shown, type State, uuid } from './state.js';

/** Entries waiting for their message, per channel (bounded: older pages carry their own state). */
const WAITING_MAX = 500;
const ENTRY = new Set([MessageKind.EDIT, MessageKind.DELETE, MessageKind.REACTION]);

export const isEntry = (m: Message) => ENTRY.has(m.kind);

/** Applies a stream entry to its message, or keeps it until the message is shown. */
export function onEntry(s: State, e: Message) {
  const target = e.change && s.messages.get(e.channelId)?.get(e.change.targetId);
  if (target) return applyEntry(s, target, e);
  const waiting = s.waiting.get(e.channelId) ?? [];
  s.waiting.set(e.channelId, waiting);
  waiting.push(e);
  if (waiting.length > WAITING_MAX) waiting.shift();
}

/** A message was just shown: the entries that waited for it apply now. */
export function applyWaiting(s: State, m: Shown) {
  const waiting = s.waiting.get(m.channelId);
  if (!waiting?.length) return;
  const mine = waiting.filter((e) => e.change?.targetId === m.id);
  if (!mine.length) return;
  s.waiting.set(
    m.channelId,
    waiting.filter((e) => e.change?.targetId !== m.id),
  );
  for (const e of mine) applyEntry(s, m, e);
}

function applyEntry(s: State, m: Shown, e: Message) {
  const st = (m.state ??= create(MessageStateSchema));
  if (e.id <= st.lastChangeId) return; // already in the state this message came with
  st.lastChangeId = e.id;
  if (e.kind === MessageKind.EDIT) {
    m.body = e.body;
    st.editedAtMs = e.sentAtMs;
    st.editCount++;
  } else if (e.kind === MessageKind.DELETE) {
    m.body = '';
    st.deleted = true;
    st.reactions = [];
  } else if (e.kind === MessageKind.REACTION && e.change) {
    react(st.reactions, e.change.emoji, e.change.reactionRemoved ? -1 : 1, e.senderUserId === s.session.userId);
  }
}

function react(list: { emoji: string; count: number; me: boolean }[], emoji: string, delta: 1 | -1, byMe: boolean) {
  let r = list.find((x) => x.emoji === emoji);
  if (!r) list.push((r = create(ReactionCountSchema, { emoji })));
  r.count = Math.max(0, r.count + delta);
  if (byMe) r.me = delta > 0;
  if (!r.count) list.splice(list.indexOf(r), 1);
}

/** A history page or send answer brought a newer state of a message already shown (edited, say, while it was paged out). */
export function newerState(m: Shown, fresh: Message) {
  if ((fresh.state?.lastChangeId ?? 0n) <= (m.state?.lastChangeId ?? 0n)) return;
  m.body = fresh.body;
  m.state = fresh.state;
}

/** The actions on a message; their entries come back on the stream. */
export const editMessage = (channelId: string, messageId: bigint, body: string) => api.chat.editMessage({ channelId, messageId, body, clientMsgId: uuid() });
export const deleteMessage = (channelId: string, messageId: bigint) => api.chat.deleteMessage({ channelId, messageId });
export const toggleReaction = (channelId: string, m: Shown, emoji: string) =>
  api.chat.react({ channelId, messageId: m.id, emoji, remove: !!m.state?.reactions.find((r) => r.emoji === emoji)?.me });
