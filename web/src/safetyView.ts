// Drawing of the consent and safety parts: pending invitations above the
// channel list, block and mute in a chat's header, and the settings panel
// (devices, blocked users). textContent only, like view.ts.
import { type Channel, ChannelKind, type Invitation } from '../../src/gen-es/chat/v1/chat_pb.js';
import { el, time } from './messageView.js';
import { acceptInvite, blockUser, declineInvite, MUTE_8H_MS, mutedUntil, muteChannel, revokeDevice, unblockUser } from './safety.js';
import type { State } from './state.js';

const $ = (sel: string) => document.querySelector<HTMLElement>(sel)!;
const button = (textContent: string, onclick: () => void, className = 'secondary') =>
  el('button', { type: 'button', className: `small ${className}`, textContent, onclick });

/** What an invitation is: a group's title, or who wants a direct chat. */
export const invitationText = (i: Invitation) =>
  i.kind === ChannelKind.GROUP ? `${i.title || 'a group'} (from ${i.inviterUserName})` : `direct chat from ${i.inviterUserName}`;

export function drawInvitations(s: State) {
  const list = [...s.invitations.values()];
  $('#invitations').hidden = !list.length;
  $('#invites').replaceChildren(
    ...list.map((i) => {
      const li = el(
        'li',
        { className: 'invite' },
        el('span', { className: 'what', textContent: invitationText(i) }),
        el(
          'span',
          { className: 'row' },
          button('Accept', () => void acceptInvite(s, i.channelId), 'accept'),
          button('Decline', () => void declineInvite(s, i.channelId, false), 'secondary decline'),
          button('Decline and block', () => void declineInvite(s, i.channelId, true), 'secondary decline-block'),
        ),
      );
      li.dataset.channelId = i.channelId;
      return li;
    }),
  );
}

export const isBlocked = (s: State, userId: string) => s.blocked.some((b) => b.userId === userId);

/** A block / unblock button for a user (a direct chat's peer, a group member). */
export const blockButton = (s: State, userId: string, userName: string) =>
  isBlocked(s, userId)
    ? button('Unblock', () => void unblockUser(s, userId), 'secondary unblock')
    : button('Block', () => void blockUser(s, userName || userId), 'secondary block');

/** In the chat's header: mute for 8 h / until unmuted (or unmute), and block for a direct chat. */
export function drawConvActions(s: State, ch: Channel | undefined, peer: { userId: string; userName: string } | undefined) {
  const box = $('#conv-actions');
  if (!ch) return box.replaceChildren();
  const until = mutedUntil(s, ch.channelId);
  const mute = until
    ? [
        el('span', { className: 'muted', textContent: until - Date.now() > 400 * 24 * 3600 * 1000 ? 'muted' : `muted until ${time(BigInt(until))}` }),
        button('Unmute', () => void muteChannel(s, ch.channelId, -1), 'secondary unmute'),
      ]
    : [
        button('Mute 8 h', () => void muteChannel(s, ch.channelId, MUTE_8H_MS), 'secondary mute-8h'),
        button('Mute', () => void muteChannel(s, ch.channelId, 0), 'secondary mute'),
      ];
  box.replaceChildren(...mute, peer ? blockButton(s, peer.userId, peer.userName) : '');
}

const when = (ms: bigint) => (ms ? new Date(Number(ms)).toLocaleString() : 'never');

/** The settings panel: this account's devices (sign out another one) and the users I blocked. */
export function drawSettings(s: State) {
  $('#settings-panel').hidden = !s.settingsOpen;
  if (!s.settingsOpen) return;
  $('#devices').replaceChildren(
    ...s.devices.map((d) => {
      const me = d.deviceId === s.session.deviceId;
      const li = el(
        'li',
        {},
        el('strong', { textContent: me ? `${d.deviceId} (this device)` : d.deviceId }),
        ` · ${d.online ? 'online' : 'offline'} · created ${when(d.createdAtMs)} · last active ${when(d.lastActiveAtMs)} `,
        me ? null : button('Sign out', () => void revokeDevice(s, d.deviceId), 'secondary revoke'),
      );
      li.dataset.deviceId = d.deviceId;
      return li;
    }),
  );
  $('#blocked').replaceChildren(
    ...(s.blocked.length
      ? s.blocked.map((b) => {
          const li = el('li', {}, el('span', { className: 'name', textContent: b.userName || b.userId }), ' ', blockButton(s, b.userId, b.userName));
          li.dataset.userName = b.userName;
          return li;
        })
      : [el('li', { className: 'empty', textContent: 'nobody' })]),
  );
}
