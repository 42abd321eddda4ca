import type { Logger } from '../../core/logger.js';
import type { PushNotification, PushNotifier } from '../../ports/PushNotifier.js';

/**
 * The embedded default: writes each push to the log instead of sending it.
 * Message content never reaches the log: only ids and the preview's size.
 */
export class LogPushNotifier implements PushNotifier {
  constructor(private readonly log: Logger) {}

  async notify(n: PushNotification) {
    const { userId, deviceId, channelId, messageId, senderUserId } = n;
    this.log.info({ push: { userId, deviceId, channelId, messageId, senderUserId, previewBytes: Buffer.byteLength(n.preview) } }, 'push notification');
  }
}
