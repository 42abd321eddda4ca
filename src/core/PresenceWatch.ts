import { presenceTopic, userTopic, type ChatEvent } from '../domain/events.js';
import type { PresenceInfo, Principal } from '../domain/model.js';
import type { Channels } from './Channels.js';
import type { CoreDeps } from './deps.js';
import type { Subscription } from '../ports/Fanout.js';

/**
 * A WatchPresence stream's view: the presence of the watched users for as long
 * as the watcher shares an accepted channel with them and neither blocked the other. When the last shared channel goes
 * (either side leaves or is removed), the watcher gets one `hidden` presence for
 * that user and nothing more about it; if a channel is shared again later, the
 * current presence follows. Services see everyone and are never re-checked.
 */
export class PresenceWatch {
  private readonly visible = new Set<string>();
  private readonly unsubs: Subscription[] = [];
  private check: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly d: CoreDeps,
    private readonly channels: Channels,
    private readonly watcher: Principal,
    private readonly ids: string[],
    private readonly emit: (p: PresenceInfo) => void,
  ) {}

  /** Subscribes first, then sends the snapshot, so no transition falls between them. */
  async start(): Promise<void> {
    for (const id of this.ids) {
      this.visible.add(id);
      this.unsubs.push(this.d.fanout.subscribe(presenceTopic(id), (ev) => this.onPresence(ev)));
    }
    if (this.watcher.kind === 'user') {
      // Membership changes of either side may end (or restore) what the two share.
      for (const u of new Set([this.watcher.userId, ...this.ids])) {
        this.unsubs.push(this.d.fanout.subscribe(userTopic(u), (ev) => this.onMembership(ev)));
      }
    }
    await this.d.fanout.subscribed();
    await this.snapshot(this.ids);
  }

  close() {
    this.closed = true;
    for (const u of this.unsubs.splice(0)) u.off();
  }

  private onPresence(ev: ChatEvent) {
    if (ev.type === 'presence' && !this.closed && this.visible.has(ev.presence.userId)) this.emit(ev.presence);
  }

  private onMembership(ev: ChatEvent) {
    if ((ev.type !== 'membership' && ev.type !== 'contactsChanged') || this.closed || this.watcher.kind !== 'user') return;
    const me = this.watcher.userId;
    // A block changed: this node's cached lists of the watcher may predate it.
    if (ev.type === 'contactsChanged') this.channels.blocks.forget([me]);
    this.check = this.check.then(async () => {
      if (this.closed) return;
      let shared: Set<string>;
      try {
        shared = await this.channels.contactsOf(me);
      } catch {
        return; // best effort: the next membership change checks again
      }
      const back: string[] = [];
      for (const id of this.ids) {
        if (id === me || this.closed) continue;
        if (this.visible.has(id) && !shared.has(id)) {
          this.visible.delete(id);
          this.emit({ userId: id, online: false, hidden: true, lastActiveAtMs: 0 });
        } else if (!this.visible.has(id) && shared.has(id)) {
          this.visible.add(id);
          back.push(id);
        }
      }
      await this.snapshot(back).catch(() => {});
    });
  }

  private async snapshot(ids: string[]) {
    if (ids.length === 0) return;
    for (const p of await this.d.presence.get(ids)) if (!this.closed && this.visible.has(p.userId)) this.emit(p);
  }
}
