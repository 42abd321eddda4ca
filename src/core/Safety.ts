import { BLOCKS_TOPIC, userTopic } from '../domain/events.js';
import { invalid } from '../domain/errors.js';
import { checkChannelId, directChannelId } from '../domain/ids.js';
import type { Principal } from '../domain/model.js';
import { requireUser, type Channels } from './Channels.js';
import type { CoreDeps } from './deps.js';

/** Longest a mute may last (a mute "forever" is this far ahead). */
const MUTE_MAX_MS = 100 * 365 * 24 * 3600 * 1000;

/**
 * Use cases of SafetyService that are not membership: blocking, declining an
 * invitation, muting. (Accepting joins a channel: Channels.acceptInvite.)
 * A block takes effect on every node at once: the two users' cached block
 * lists are dropped everywhere (`blocks` topic) before the call returns, and
 * both users' streams re-check whose presence they may see.
 */
export class Safety {
  constructor(
    private readonly d: CoreDeps,
    private readonly channels: Channels,
  ) {}

  async block(p: Principal, ref: string) {
    const me = requireUser(p);
    const target = await this.channels.resolve(ref);
    if (target.userId === me.userId) throw invalid('you cannot block yourself');
    await this.d.safety.block(me.userId, target.userId, this.d.now());
    // Invitations either way between the two are void: from them to me, and my direct channel request to them.
    const fromThem = (await this.d.safety.invitations(me.userId)).filter((i) => i.inviterUserId === target.userId);
    await Promise.all([
      ...fromThem.map((i) => this.d.safety.takeInvitation(me.userId, i.channelId)),
      this.d.safety.takeInvitation(target.userId, directChannelId(me.userId, target.userId)),
    ]);
    await this.changed(me.userId, target.userId);
  }

  async unblock(p: Principal, ref: string) {
    const me = requireUser(p);
    const target = await this.channels.resolve(ref);
    if (await this.d.safety.unblock(me.userId, target.userId)) await this.changed(me.userId, target.userId);
  }

  /** The users the caller blocked, newest first. */
  async listBlocked(p: Principal) {
    const me = requireUser(p);
    const { blocked } = await this.d.safety.blocks(me.userId);
    const named = await Promise.all(blocked.map(async (b) => ({ ...b, userName: (await this.d.accounts.byId(b.userId))?.userName ?? '' })));
    return named.sort((a, b) => b.atMs - a.atMs || a.userId.localeCompare(b.userId));
  }

  /** Drops a pending invitation (not an error when there is none: declining is idempotent); `block` also blocks the inviter. */
  async decline(p: Principal, channelId: string, block: boolean) {
    const me = requireUser(p);
    checkChannelId(channelId);
    const inv = await this.d.safety.takeInvitation(me.userId, channelId);
    if (inv && block) await this.block(p, inv.inviterUserId);
  }

  async mute(p: Principal, channelId: string, untilMs: number) {
    const me = requireUser(p);
    await this.channels.readable(p, channelId);
    if (!Number.isSafeInteger(untilMs) || untilMs < 0) throw invalid('until_ms must be a time in epoch milliseconds, or 0 to unmute');
    await this.d.safety.mute(me.userId, channelId, Math.min(untilMs, this.d.now() + MUTE_MAX_MS));
  }

  /** Drops both users' cached lists on every node, then has their streams re-check presence visibility. */
  private async changed(a: string, b: string) {
    this.channels.blocks.forget([a, b]);
    await this.d.fanout.publish(BLOCKS_TOPIC, { type: 'blocksChanged', userIds: [a, b] });
    await Promise.all([a, b].map((u) => this.d.fanout.publish(userTopic(u), { type: 'contactsChanged', userId: u })));
  }
}
