import type { Cursor } from '../domain/model.js';

/**
 * Per-device delivery cursors and per-user read pointers.
 * Guarantees: both only move forward (a lower value never overwrites a higher
 * one), so acknowledgements arriving out of order are harmless.
 */
export interface MemberPointers {
  /** The highest id any of the member's devices acknowledged. */
  delivered: number;
  /** The member's read pointer. */
  read: number;
}

export interface CursorStore {
  /** Raises the device's delivered cursor of each listed channel, and the user's member pointer (see memberPointers). */
  ackDelivered(userId: string, deviceId: string, cursors: Cursor[]): Promise<void>;
  /** The device's stored cursors, by channel id. */
  delivered(userId: string, deviceId: string): Promise<Map<string, number>>;
  /** Raises the user's read pointer; returns the pointer after the call. */
  markRead(userId: string, channelId: string, messageId: number): Promise<number>;
  /** The user's read pointers for the given channels (0 where unset). */
  readPointers(userId: string, channelIds: string[]): Promise<Map<string, number>>;
  /**
   * Per user who ever acked or read the channel: how far their devices have
   * received it and how far they have read it (receipts). One record per
   * member and channel, raised by `ackDelivered` and `markRead`: never one
   * per message. Reading it is one read of the channel's pointers.
   */
  memberPointers(channelId: string): Promise<Map<string, MemberPointers>>;
}
