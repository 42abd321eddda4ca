// Consent and safety (issue 11): invitations to accept or decline, blocking,
// muting a channel, and this account's devices. Unary calls of SafetyService
// and AccountService; what they change that others see comes on the stream.
import { adoptChannel, attempt } from './actions.js';
import { api, app, muteKey, type State, store } from './state.js';
import { loadChannelsSoon } from './sync.js';
import { showError } from './view.js';

/** Mute choices: a duration in ms, or 0 for "until unmuted" (as far ahead as the server allows). */
export const MUTE_8H_MS = 8 * 3600 * 1000;
const FOREVER_MS = 50 * 365 * 24 * 3600 * 1000;

/** Accepts an invitation: the channel joins the list and opens with the messages written meanwhile. */
export const acceptInvite = (s: State, channelId: string) =>
  attempt(async () => {
    const { channel } = await api.safety.acceptInvite({ channelId });
    s.invitations.delete(channelId);
    await adoptChannel(s, channel);
  });

/** Declines an invitation; with `block`, the inviter is blocked too (they are not told). */
export const declineInvite = (s: State, channelId: string, block: boolean) =>
  attempt(async () => {
    await api.safety.declineInvite({ channelId, block });
    s.invitations.delete(channelId);
    if (block && s.settingsOpen) await loadSettings(s);
  });

/** Blocks a user (name or id). A direct chat with them stays listed; sending into it is refused from now on. */
export const blockUser = (s: State, user: string) =>
  attempt(async () => {
    await api.safety.blockUser({ user });
    s.blocked = (await api.safety.listBlocked({})).users;
    loadChannelsSoon(s);
  });

export const unblockUser = (s: State, user: string) =>
  attempt(async () => {
    await api.safety.unblockUser({ user });
    s.blocked = s.blocked.filter((b) => b.userId !== user && b.userName !== user);
  });

/** Mutes a channel for `forMs` (0: until unmuted), or unmutes it (`forMs` < 0). Kept on this device too, to show it. */
export const muteChannel = (s: State, channelId: string, forMs: number) =>
  attempt(async () => {
    const untilMs = forMs < 0 ? 0 : Date.now() + (forMs || FOREVER_MS);
    await api.safety.muteChannel({ channelId, untilMs: BigInt(untilMs) });
    if (untilMs) s.mutes.set(channelId, untilMs);
    else s.mutes.delete(channelId);
    store.set(muteKey(s.session), Object.fromEntries(s.mutes));
  });

/** Until when a channel is muted (0: not muted). */
export function mutedUntil(s: State, channelId: string): number {
  const until = s.mutes.get(channelId) ?? 0;
  return until > Date.now() ? until : 0;
}

/** The settings panel's lists: blocked users and devices. */
export async function loadSettings(s: State) {
  const [blocked, devices] = await Promise.all([api.safety.listBlocked({}), api.account.listDevices({})]);
  if (s !== app.state) return;
  s.blocked = blocked.users;
  s.devices = devices.devices;
  app.render();
}

export function toggleSettings(s: State) {
  s.settingsOpen = !s.settingsOpen;
  if (s.settingsOpen) void loadSettings(s).catch(showError);
  app.render();
}

/** Signs another device of mine out (its streams end, its tokens die). */
export const revokeDevice = (s: State, deviceId: string) =>
  attempt(async () => {
    await api.account.revokeDevice({ deviceId });
    s.devices = s.devices.filter((d) => d.deviceId !== deviceId);
  });
