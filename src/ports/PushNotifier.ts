/**
 * Wakes up an offline device (APNs/FCM in production).
 * Guarantees: best effort. A failure is logged by the caller and never fails
 * or delays the send that triggered it.
 */
export interface PushNotification {
  userId: string;
  deviceId: string;
  channelId: string;
  messageId: number;
  senderUserId: string;
  /** A short preview of the body. */
  preview: string;
}

export interface PushNotifier {
  notify(n: PushNotification): Promise<void>;
}
