import type { ChannelCursor } from '../gen/chat/v1/common.js';

/**
 * What this device has received, per channel, kept gap-free: the cursor only
 * moves past an id when everything below it has been seen. The server echoes
 * a device's own sends on its stream; acknowledged own ids are also parked and
 * folded in once the cursor reaches them, in case the stream dropped first.
 */
export class CursorBook {
  private readonly at = new Map<string, number>();
  private readonly own = new Map<string, Set<number>>();
  private readonly unacked = new Set<string>();
  private readonly unsaved = new Set<string>();

  constructor(initial: Record<string, number> = {}) {
    for (const [ch, id] of Object.entries(initial)) this.at.set(ch, id);
  }

  /** The cursor of one channel (0 when nothing was received). */
  get(channelId: string): number {
    return this.at.get(channelId) ?? 0;
  }

  /** Records a delivered message; false if it is at or below the cursor (a repeat). */
  received(channelId: string, id: number): boolean {
    if (id <= this.get(channelId)) return false;
    this.move(channelId, id);
    return true;
  }

  /** Records one of our own sends, acknowledged by the server. */
  sent(channelId: string, id: number) {
    if (id <= this.get(channelId)) return;
    let s = this.own.get(channelId);
    if (!s) this.own.set(channelId, (s = new Set()));
    s.add(id);
    this.move(channelId, this.get(channelId));
  }

  /** Takes the server's post-replay cursors where they are ahead of ours. */
  merge(cursors: ChannelCursor[]) {
    for (const c of cursors) if (c.lastMessageId > this.get(c.channelId)) this.move(c.channelId, c.lastMessageId);
  }

  /** Drops a channel the user is no longer in. */
  drop(channelId: string) {
    this.at.delete(channelId);
    this.own.delete(channelId);
    this.unacked.delete(channelId);
    this.unsaved.add(channelId);
  }

  /** Drops every channel not in `member` (left or removed while this device was away). */
  keepOnly(member: Set<string>) {
    for (const ch of [...this.at.keys()]) if (!member.has(ch)) this.drop(ch);
  }

  /** Resume cursors, only for the channels in `member` when given (others would be refused by the server). */
  resume(member?: Set<string>): ChannelCursor[] {
    return [...this.at].filter(([ch]) => !member || member.has(ch)).map(([channelId, lastMessageId]) => ({ channelId, lastMessageId }));
  }

  /** Cursors changed since the last call, for an `ack` frame. */
  takeUnacked(): ChannelCursor[] {
    const out = [...this.unacked].map((channelId) => ({ channelId, lastMessageId: this.get(channelId) }));
    this.unacked.clear();
    return out;
  }

  /** Cursors changed since the last call, for the profile file; `null` marks a dropped channel. */
  takeUnsaved(): Record<string, number | null> | undefined {
    if (this.unsaved.size === 0) return undefined;
    const out = Object.fromEntries([...this.unsaved].map((ch) => [ch, this.at.has(ch) ? this.get(ch) : null]));
    this.unsaved.clear();
    return out;
  }

  private move(channelId: string, id: number) {
    let to = id;
    const own = this.own.get(channelId);
    if (own) {
      for (const x of [...own]) if (x <= to) own.delete(x);
      while (own.has(to + 1)) own.delete(++to);
    }
    if (to === this.get(channelId)) return;
    this.at.set(channelId, to);
    this.unacked.add(channelId);
    this.unsaved.add(channelId);
  }
}
