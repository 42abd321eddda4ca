import type { Cursor } from '../../domain/model.js';
import type { CursorStore, MemberPointers } from '../../ports/CursorStore.js';

/** Delivery cursors and read pointers in process memory; both only move forward. */
export class MemoryCursorStore implements CursorStore {
  private readonly deliveredByDevice = new Map<string, Map<string, number>>();
  private readonly readByUser = new Map<string, Map<string, number>>();
  private readonly byChannel = new Map<string, Map<string, MemberPointers>>();

  private member(channelId: string, userId: string): MemberPointers {
    let ch = this.byChannel.get(channelId);
    if (!ch) this.byChannel.set(channelId, (ch = new Map()));
    let p = ch.get(userId);
    if (!p) ch.set(userId, (p = { delivered: 0, read: 0 }));
    return p;
  }

  async memberPointers(channelId: string) {
    return new Map([...(this.byChannel.get(channelId) ?? [])].map(([u, p]) => [u, { ...p }]));
  }

  async ackDelivered(userId: string, deviceId: string, cursors: Cursor[]) {
    const key = `${userId}/${deviceId}`;
    let m = this.deliveredByDevice.get(key);
    if (!m) this.deliveredByDevice.set(key, (m = new Map()));
    for (const c of cursors) {
      m.set(c.channelId, Math.max(m.get(c.channelId) ?? 0, c.lastMessageId));
      const p = this.member(c.channelId, userId);
      p.delivered = Math.max(p.delivered, c.lastMessageId);
    }
  }

  async delivered(userId: string, deviceId: string) {
    return new Map(this.deliveredByDevice.get(`${userId}/${deviceId}`) ?? []);
  }

  async markRead(userId: string, channelId: string, messageId: number) {
    let m = this.readByUser.get(userId);
    if (!m) this.readByUser.set(userId, (m = new Map()));
    const v = Math.max(m.get(channelId) ?? 0, messageId);
    m.set(channelId, v);
    const p = this.member(channelId, userId);
    p.read = Math.max(p.read, v);
    return v;
  }

  async readPointers(userId: string, channelIds: string[]) {
    const m = this.readByUser.get(userId);
    return new Map(channelIds.map((c) => [c, m?.get(c) ?? 0]));
  }
}
