import type { BlockLists, Invitation, SafetyStore } from '../../ports/SafetyStore.js';

/** Blocks, invitations and mutes in process memory (one node). */
export class MemorySafetyStore implements SafetyStore {
  /** blocker -> blocked -> at. */
  private readonly blocked = new Map<string, Map<string, number>>();
  /** blocked -> blockers. */
  private readonly blockers = new Map<string, Set<string>>();
  /** invitee -> channel -> invitation. */
  private readonly invites = new Map<string, Map<string, Invitation>>();
  private readonly muted = new Map<string, Map<string, number>>();

  async block(blocker: string, target: string, atMs: number) {
    const m = this.blocked.get(blocker) ?? new Map<string, number>();
    m.set(target, atMs);
    this.blocked.set(blocker, m);
    this.blockers.set(target, (this.blockers.get(target) ?? new Set()).add(blocker));
  }

  async unblock(blocker: string, target: string) {
    this.blockers.get(target)?.delete(blocker);
    return this.blocked.get(blocker)?.delete(target) ?? false;
  }

  async blocks(userId: string): Promise<BlockLists> {
    return {
      blocked: [...(this.blocked.get(userId) ?? [])].map(([u, atMs]) => ({ userId: u, atMs })),
      blockers: [...(this.blockers.get(userId) ?? [])],
    };
  }

  async invite(inv: Invitation, maxPending: number) {
    const m = this.invites.get(inv.inviteeUserId) ?? new Map<string, Invitation>();
    m.set(inv.channelId, { ...inv });
    this.invites.set(inv.inviteeUserId, m);
    const dropped = oldestFirst([...m.values()]).slice(0, Math.max(0, m.size - maxPending));
    for (const d of dropped) m.delete(d.channelId);
    return dropped;
  }

  async invitations(invitee: string) {
    return oldestFirst([...(this.invites.get(invitee)?.values() ?? [])]).map((i) => ({ ...i }));
  }

  async takeInvitation(invitee: string, channelId: string) {
    const m = this.invites.get(invitee);
    const inv = m?.get(channelId);
    m?.delete(channelId);
    return inv;
  }

  async mute(userId: string, channelId: string, untilMs: number) {
    const m = this.muted.get(userId) ?? new Map<string, number>();
    if (untilMs > 0) m.set(channelId, untilMs);
    else m.delete(channelId);
    this.muted.set(userId, m);
  }

  async mutes(userId: string, nowMs: number) {
    return new Map([...(this.muted.get(userId) ?? [])].filter(([, until]) => until > nowMs));
  }
}

/** Oldest first; ties by channel id, so every store orders alike. */
export function oldestFirst(list: Invitation[]): Invitation[] {
  return list.sort((a, b) => a.createdAtMs - b.createdAtMs || a.channelId.localeCompare(b.channelId));
}
