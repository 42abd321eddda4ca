import { invalid, precondition, denied } from './errors.js';
import type { Channel, Member, Role } from './model.js';

/** Pure business rules: message bodies, membership caps, roles. */

export interface Limits {
  maxBodyBytes: number;
  maxGroupMembers: number;
}

/** Characters of a group title. */
export const MAX_GROUP_TITLE = 200;

/** Rejects empty and oversized bodies. Invalid UTF-8 is caught while decoding (transport). */
export function checkBody(body: string, limits: Limits): string {
  if (body.length === 0 || body.trim().length === 0) throw invalid('body is empty');
  const bytes = Buffer.byteLength(body, 'utf8');
  if (bytes > limits.maxBodyBytes) {
    throw invalid(`body is ${bytes} bytes; the limit is ${limits.maxBodyBytes} bytes`);
  }
  return body;
}

export function checkTitle(title: string): string {
  const t = title.trim();
  if (t.length === 0) throw invalid('title is required');
  if (t.length > MAX_GROUP_TITLE) throw invalid(`title is longer than ${MAX_GROUP_TITLE} characters`);
  return t;
}

/** The cap counts every member, the creator included. */
export function checkCapacity(current: number, adding: number, limits: Limits): void {
  if (current + adding > limits.maxGroupMembers) {
    throw precondition(`a group holds at most ${limits.maxGroupMembers} members; it has ${current} and ${adding} more were requested`);
  }
}

export const memberOf = (ch: Channel, userId: string): Member | undefined => ch.members.find((m) => m.userId === userId);

const RANK: Record<Role, number> = { member: 0, admin: 1, owner: 2 };

/** Owners and admins manage group membership; nobody manages a direct channel. */
export function checkCanManage(ch: Channel, userId: string): void {
  if (ch.kind === 'direct') throw precondition('members of a direct channel cannot be changed');
  const me = memberOf(ch, userId);
  if (!me) throw denied(`you are not a member of channel ${ch.id}`);
  if (RANK[me.role] < RANK.admin) throw denied('only the owner or an admin can change the members of this group');
}

/** Unread = messages after the read pointer. Ids are dense per channel, so this is a subtraction. */
export const unreadCount = (head: number, lastRead: number) => Math.max(0, head - lastRead);
