import { randomUUID } from 'node:crypto';
import { invalid } from './errors.js';

/**
 * Identifier rules. Ids are validated at the edge so that malformed input
 * becomes INVALID_ARGUMENT naming the field, and so that adapters can embed
 * ids in keys (Redis, CQL) without escaping.
 */

const USER_NAME = /^[A-Za-z0-9_.-]{3,32}$/;
const DEVICE_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const USER_ID = /^u_[a-f0-9]{32}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Groups: g_<32 hex>. Direct channels: d_<userId>_<userId>, ids sorted. */
const CHANNEL_ID = /^(g_[a-f0-9]{32}|d_u_[a-f0-9]{32}_u_[a-f0-9]{32})$/;

export const newUserId = () => 'u_' + randomUUID().replaceAll('-', '');
export const newGroupId = () => 'g_' + randomUUID().replaceAll('-', '');
export const newDeviceId = () => 'dev-' + randomUUID().slice(0, 8);

/** The one channel two users share; the same whoever opens it. */
export function directChannelId(a: string, b: string): string {
  const [x, y] = a < b ? [a, b] : [b, a];
  return `d_${x}_${y}`;
}

/** The other user of a direct channel id (`d_<a>_<b>`): user ids have a fixed length. */
export function directPeer(channelId: string, userId: string): string {
  const a = channelId.slice(2, 36);
  const b = channelId.slice(37);
  return a === userId ? b : a;
}

export const isUserId = (s: string) => USER_ID.test(s);

export function checkUserName(s: string): string {
  if (!USER_NAME.test(s)) throw invalid('user_name must be 3-32 characters of letters, digits, "_", "-" or "."');
  return s;
}

export function checkDeviceId(s: string): string {
  if (!DEVICE_ID.test(s)) throw invalid('device_id must be 1-64 characters of letters, digits, "_", "-" or "."');
  return s;
}

export function checkChannelId(s: string, field = 'channel_id'): string {
  if (!s) throw invalid(`${field} is required`);
  if (!CHANNEL_ID.test(s)) throw invalid(`${field} "${s.slice(0, 80)}" is not a valid channel id`);
  return s;
}

export function checkClientMsgId(s: string): string {
  if (!s) throw invalid('client_msg_id is required (a UUID chosen by the client)');
  if (!UUID.test(s)) throw invalid('client_msg_id must be a UUID');
  return s.toLowerCase();
}

export function checkMessageId(n: number, field: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${field} must be a non-negative integer below 2^53`);
  return n;
}
