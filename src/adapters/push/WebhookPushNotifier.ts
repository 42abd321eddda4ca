import { unavailable } from '../../domain/errors.js';
import type { PushNotification, PushNotifier } from '../../ports/PushNotifier.js';

/**
 * POSTs each notification as JSON to a URL (a push gateway that talks to
 * APNs/FCM). One request per device; a non-2xx answer or a timeout rejects.
 */
export class WebhookPushNotifier implements PushNotifier {
  constructor(
    private readonly url: string,
    private readonly timeoutMs = 3000,
  ) {}

  async notify(n: PushNotification) {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(n),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await res.arrayBuffer();
    if (!res.ok) throw unavailable(`push webhook answered HTTP ${res.status}`);
  }
}
