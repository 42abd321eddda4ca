import type { Cursor } from '../domain/model.js';

/**
 * Per-device delivery cursors and per-user read pointers.
 * Guarantees: both only move forward (a lower value never overwrites a higher
 * one), so acknowledgements arriving out of order are harmless.
 */
export interface CursorStore {
  /** Raises the device's delivered cursor of each listed channel. */
  ackDelivered(userId: string, deviceId: string, cursors: Cursor[]): Promise<void>;
  /** The device's stored cursors, by channel id. */
  delivered(userId: string, deviceId: string): Promise<Map<string, number>>;
  /** Raises the user's read pointer; returns the pointer after the call. */
  markRead(userId: string, channelId: string, messageId: number): Promise<number>;
  /** The user's read pointers for the given channels (0 where unset). */
  readPointers(userId: string, channelIds: string[]): Promise<Map<string, number>>;
}
