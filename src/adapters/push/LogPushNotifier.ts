import type { Logger } from '../../core/logger.js';
import type { PushNotification, PushNotifier } from '../../ports/PushNotifier.js';

/** The embedded default: writes each push to the log instead of sending it. */
export class LogPushNotifier implements PushNotifier {
  constructor(private readonly log: Logger) {}

  async notify(n: PushNotification) {
    this.log.info({ push: n }, 'push notification');
  }
}
