import { randomInt } from 'node:crypto';
import type { Message } from '../domain/model.js';

/**
 * Random messages for the codec tests: the strings and integers where wire
 * encodings go wrong (empty, multi-byte UTF-8, varint length boundaries at
 * 127/128 and 16,383/16,384, integers past 32 bits up to 2^53 - 1).
 */
export const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)]!;

export const sampleStrings = [
  '',
  'a',
  'g_0123456789abcdef0123456789abcdef',
  'héllo wörld',
  '日本語のテキスト',
  '🙂🙃 emoji',
  'x'.repeat(127),
  'y'.repeat(128),
  'z'.repeat(20_000),
];
export const sampleNumbers = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 + 5, 1_764_000_000_000, Number.MAX_SAFE_INTEGER];

export function randomMessage(): Message {
  return {
    channelId: pick(sampleStrings),
    id: pick(sampleNumbers),
    senderUserId: pick(sampleStrings),
    senderDeviceId: pick(sampleStrings),
    clientMsgId: pick(sampleStrings),
    body: pick(sampleStrings),
    sentAtMs: pick(sampleNumbers),
    kind: pick(['user', 'system'] as const),
  };
}
