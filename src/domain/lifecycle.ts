import { denied, invalid, notFound, precondition } from './errors.js';
import type { Channel, Message, Reaction } from './model.js';
import { memberOf } from './rules.js';

/**
 * Message lifecycle: edits, deletes for everyone and reactions. Each change is
 * an entry (a Message of kind edit/delete/reaction naming `targetId`) with the
 * channel's next id, so devices learn about it through the ordinary
 * replay/live path; stores also apply it to the target's current state.
 */

/** Distinct emojis one message may carry. */
export const MAX_REACTIONS_PER_MESSAGE = 20;
/** Bytes of one emoji (a ZWJ family with skin tones fits). */
export const MAX_EMOJI_BYTES = 32;

export const isEntry = (m: Message) => m.kind === 'edit' || m.kind === 'delete' || m.kind === 'reaction';

/** A message a change may name: one of the channel's own user or system messages. */
export function checkTarget(target: Message | undefined, channelId: string, id: number): Message {
  if (!target || isEntry(target)) throw notFound(`message ${id} not found in channel ${channelId}`);
  return target;
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\p{Emoji_Presentation}/u;

/** One grapheme cluster that holds an emoji, at most MAX_EMOJI_BYTES. */
export function checkEmoji(emoji: string): string {
  if (!emoji) throw invalid('emoji is required');
  if (Buffer.byteLength(emoji) > MAX_EMOJI_BYTES) throw invalid(`emoji is longer than ${MAX_EMOJI_BYTES} bytes`);
  const clusters = [...segmenter.segment(emoji)].length;
  if (clusters !== 1 || !EMOJI.test(emoji)) throw invalid('emoji must be a single emoji (one grapheme cluster)');
  return emoji;
}

/** Only the sender edits, within the window, and never a deleted message. */
export function checkCanEdit(target: Message, userId: string, nowMs: number, windowMs: number): void {
  if (target.senderUserId !== userId) throw denied('only the sender can edit a message');
  if (target.deleted) throw precondition(`message ${target.id} is deleted`);
  if (nowMs - target.sentAtMs > windowMs) {
    throw precondition(`message ${target.id} can no longer be edited: the edit window of ${Math.round(windowMs / 60_000)} minutes has passed`);
  }
}

/** The sender, or a group's owner or admin; a message is deleted once. */
export function checkCanDelete(target: Message, ch: Channel, userId: string): void {
  if (target.deleted) throw precondition(`message ${target.id} is already deleted`);
  if (target.senderUserId === userId) return;
  const role = memberOf(ch, userId)?.role;
  if (ch.kind === 'group' && (role === 'owner' || role === 'admin')) return;
  throw denied('only the sender, or an owner or admin of the group, can delete a message');
}

/** Whether a reaction change would change anything; refuses a new emoji past the cap and reactions on deleted messages. */
export function reactionChanges(target: Message, userId: string, emoji: string, remove: boolean): boolean {
  if (target.deleted) throw precondition(`message ${target.id} is deleted`);
  const r = target.reactions?.find((x) => x.emoji === emoji);
  const mine = !!r?.userIds.includes(userId);
  if (remove) return mine;
  if (mine) return false;
  if (!r && (target.reactions?.length ?? 0) >= MAX_REACTIONS_PER_MESSAGE) {
    throw precondition(`a message holds at most ${MAX_REACTIONS_PER_MESSAGE} different reactions`);
  }
  return true;
}

/** Reactions after adding or removing one user's emoji (pure; empty emojis disappear). */
export function applyReaction(reactions: Reaction[] | undefined, userId: string, emoji: string, remove: boolean): Reaction[] {
  const out = (reactions ?? []).map((r) => ({ emoji: r.emoji, userIds: r.userIds.filter((u) => u !== userId || r.emoji !== emoji) }));
  if (!remove) {
    const r = out.find((x) => x.emoji === emoji);
    if (r) r.userIds.push(userId);
    else out.push({ emoji, userIds: [userId] });
  }
  return out.filter((r) => r.userIds.length > 0);
}
