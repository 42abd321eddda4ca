import { ChatClient, type ChatSession } from '../../src/client/index.js';
import type { Device } from '../support/client.js';

/**
 * A test device that behaves like a real client across node failures: an SDK
 * session (ChatSession) that reconnects through PickServer when its stream
 * dies or follows a drain's reconnect frame, resumes from its cursors and
 * resends unacknowledged messages with their original client_msg_id. It
 * records what it receives so tests can check for gaps and duplicates.
 */
export class SimDevice {
  /** Per channel, the ids delivered to this device (messages, and acks of its own sends), in arrival order. */
  readonly received = new Map<string, number[]>();
  readonly acked = new Map<string, { channelId: string; id: number }>();
  private readonly client: ChatClient;
  private session?: ChatSession;
  private readonly label_: string;

  constructor(
    base: Device,
    address: string,
    private readonly seeds: () => string[],
  ) {
    this.client = new ChatClient(address, { credential: base.token });
    this.client.userId = base.userId;
    this.client.deviceId = base.deviceId;
    this.label_ = `${base.userName}/${base.deviceId}`;
  }

  get label() {
    return this.label_;
  }

  get node() {
    return this.client.address;
  }

  /** Sends not yet acknowledged. */
  get pending(): ReadonlyMap<string, unknown> {
    return this.session?.unacked ?? new Map();
  }

  get reconnects() {
    return this.session?.reconnects ?? 0;
  }

  get moved() {
    return this.session?.moved ?? 0;
  }

  /** Opens the session and waits until it has caught up. */
  async connect() {
    const s = this.client.connect({ seeds: this.seeds, maxAttempts: 60, backoffMs: () => 250 });
    this.session = s;
    void this.record(s);
    try {
      await s.ready;
    } catch (e) {
      await s.close();
      throw e;
    }
  }

  send(channelId: string, body: string) {
    // Settled by its ack, or by the replay of the message when the ack was lost with a stream.
    this.session?.send({ channelId, body }).then(
      (a) => this.acked.set(a.clientMsgId, { channelId: a.channelId, id: a.messageId }),
      () => {},
    );
  }

  stop() {
    void this.session?.close().finally(() => this.client.close());
  }

  private log(channelId: string) {
    let list = this.received.get(channelId);
    if (!list) this.received.set(channelId, (list = []));
    return list;
  }

  private async record(s: ChatSession) {
    try {
      for await (const e of s) {
        if (e.$case === 'message') this.log(e.message.channelId).push(e.message.id);
        else if (e.$case === 'sendAck') {
          // A stream's own sends come back as their acks, in channel order: they are part of its log.
          const list = this.log(e.sendAck.channelId);
          if (e.sendAck.messageId > (list.at(-1) ?? 0)) list.push(e.sendAck.messageId);
        }
      }
    } catch {
      /* the session gave up: the test's assertions report what is missing */
    }
  }
}
