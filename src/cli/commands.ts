import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { MemberRole, type ListHistoryResponse } from '../gen/chat/v1/chat.js';
import { PresenceState, type Message } from '../gen/chat/v1/common.js';
import { ChatClient } from '../client/index.js';
import { CliError } from './errors.js';
import { Directory } from './directory.js';
import { ago, messageLine, when } from './format.js';
import { profilePath, readProfile, requireProfile, writeProfile, type Profile } from './profile.js';
import { askPassword } from './prompt.js';
import { cliClient } from './session.js';

/** What every command gets: where to connect, which profile, and the parsed options. */
export interface Ctx {
  server: string;
  profileName: string;
  password?: string;
  newPassword?: string;
  device?: string;
  limit?: number;
  /** `decline --block`. */
  block?: boolean;
}

const say = (s: string) => process.stdout.write(s + '\n');

/** A logged-in profile with its API clients and name directory. */
function open(ctx: Ctx) {
  const profile = requireProfile(ctx.profileName);
  const api = cliClient(ctx.server, ctx.profileName, profile);
  return { profile, api, dir: new Directory(api, profile) };
}

/** Runs `fn` with a logged-in session and closes the clients afterwards. */
export async function withSession<T>(ctx: Ctx, fn: (s: ReturnType<typeof open>) => Promise<T>): Promise<T> {
  const s = open(ctx);
  try {
    return await fn(s);
  } finally {
    s.api.close();
  }
}

export function need(args: string[], n: number, usage: string) {
  if (args.length < n) throw new CliError(`usage: chat ${usage}`);
}

/** The default device id of this machine: `cli-<hostname>`, reduced to the allowed characters. */
export function defaultDeviceId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_.-]/g, '-')
      .slice(0, 60) || 'host';
  return `cli-${host}`;
}

/** The user name argument; `chat --as alice register` means user "alice". */
function userArg(ctx: Ctx, args: string[], usage: string): string {
  const user = args[0] ?? (ctx.profileName !== 'default' ? ctx.profileName : undefined);
  if (!user) throw new CliError(`usage: chat ${usage}`);
  return user;
}

/** `chat register <user>`: creates the account, then logs in like `chat login`. */
export async function register(ctx: Ctx, args: string[]) {
  const userName = userArg(ctx, args, 'register <user> [--password p]');
  const password = ctx.password ?? (await askPassword('choose a password (8+ characters): '));
  const api = new ChatClient(ctx.server);
  try {
    const r = await api.accounts.register({ userName, password });
    say(`registered ${userName} (${r.userId})`);
  } finally {
    api.close();
  }
  await login({ ...ctx, password }, [userName]);
}

/** `chat login <user>`: exchanges the password for a device token and saves the profile. */
export async function login(ctx: Ctx, args: string[]) {
  const userName = userArg(ctx, args, 'login <user> [--password p] [--device id]');
  const password = ctx.password ?? (await askPassword());
  const api = new ChatClient(ctx.server);
  try {
    const r = await api.accounts.login({ userName, password, deviceId: ctx.device ?? defaultDeviceId() });
    const old = readProfile(ctx.profileName);
    const profile: Profile = {
      userName,
      userId: r.userId,
      deviceId: r.deviceId,
      token: r.accessToken,
      expiresAtMs: r.expiresAtMs,
      refreshToken: r.refreshToken,
      refreshExpiresAtMs: r.refreshExpiresAtMs,
      cursors: old?.userId === r.userId ? old.cursors : {},
    };
    writeProfile(ctx.profileName, profile);
    say(`logged in as ${userName} on device ${r.deviceId}; profile "${ctx.profileName}" saved to ${profilePath(ctx.profileName)}`);
  } finally {
    api.close();
  }
}

/** `chat whoami`: the profile's user, device and token expiry (no server call). */
export async function whoami(ctx: Ctx) {
  const p = requireProfile(ctx.profileName);
  const expiry = p.expiresAtMs ? `${when(p.expiresAtMs)}${p.expiresAtMs < Date.now() ? ' (expired: log in again)' : ''}` : 'unknown';
  say(
    `${p.userName} (${p.userId})\ndevice:  ${p.deviceId}\nprofile: ${ctx.profileName} (${profilePath(ctx.profileName)})\nserver:  ${ctx.server}\ntoken expires: ${expiry}`,
  );
}

/** `chat devices`: every device of the account, this one marked with `*`. */
export async function devices(ctx: Ctx) {
  await withSession(ctx, async ({ api, profile }) => {
    const r = await api.accounts.listDevices({});
    for (const d of r.devices) {
      const mark = d.deviceId === profile.deviceId ? '*' : ' ';
      say(`${mark} ${d.deviceId.padEnd(24)} ${d.online ? 'online ' : 'offline'}  last active ${ago(d.lastActiveAtMs)}  since ${when(d.createdAtMs)}`);
    }
  });
}

/** `chat dm <user>`: prints the id of the direct channel with a user (creating it once). */
export async function dm(ctx: Ctx, args: string[]) {
  need(args, 1, 'dm <user>');
  await withSession(ctx, async ({ api }) => {
    const r = await api.chat.openDirect({ peer: args[0]! });
    say(r.channel!.channelId);
  });
}

/** `chat send <user-or-channel> <text...>`: one message with a fresh client_msg_id. */
export async function send(ctx: Ctx, args: string[]) {
  need(args, 2, 'send <user-or-channel> <text...>');
  const body = args.slice(1).join(' ');
  await withSession(ctx, async ({ api, dir }) => {
    const channelId = await dir.resolveTarget(args[0]!);
    const r = await api.chat.sendMessage({ channelId, clientMsgId: randomUUID(), body, firstAttempt: true });
    say(`sent #${r.message!.id} to ${args[0]}${r.duplicate ? ' (duplicate)' : ''}`);
  });
}

/** `chat history <user-or-channel> [--limit n]`: the latest messages, oldest at the top. */
export async function history(ctx: Ctx, args: string[]) {
  need(args, 1, 'history <user-or-channel> [--limit n]');
  const want = ctx.limit ?? 50;
  await withSession(ctx, async ({ api, dir }) => {
    const channelId = await dir.resolveTarget(args[0]!);
    await dir.refresh(channelId);
    const got: Message[] = [];
    let beforeId = 0;
    while (got.length < want) {
      const r: ListHistoryResponse = await api.chat.listHistory({ channelId, beforeId, limit: Math.min(500, want - got.length) });
      got.push(...r.messages);
      if (!r.nextBeforeId || r.messages.length === 0) break;
      beforeId = r.nextBeforeId;
    }
    if (got.length === 0) say('(no messages)');
    for (const m of got.reverse()) say(messageLine(m, m.senderUserId.startsWith('svc:') ? m.senderUserId : dir.name(m.senderUserId)));
  });
}

/** `chat channels`: each channel's title or peer, id and unread count. */
export async function channels(ctx: Ctx) {
  await withSession(ctx, async ({ dir }) => {
    const all = await dir.load();
    if (all.length === 0) say('(no channels yet: try `chat dm <user>` or `chat group create <title> <members...>`)');
    for (const ch of all) {
      const unread = ch.unreadCount ? `${ch.unreadCount} unread` : '';
      say(`${dir.label(ch.channelId).padEnd(24)} ${ch.channelId}  ${unread}`.trimEnd());
    }
  });
}

const ROLE: Record<number, string> = { [MemberRole.MEMBER_ROLE_OWNER]: 'owner', [MemberRole.MEMBER_ROLE_ADMIN]: 'admin' };

/** `chat group create|add|remove|leave ...`: group management. */
export async function group(ctx: Ctx, args: string[]) {
  const [sub, ...rest] = args;
  await withSession(ctx, async ({ api, dir }) => {
    const showGroup = (ch: { channelId: string; title: string; members: Array<{ userName: string; userId: string; role: number }> }) => {
      const names = ch.members.map((m) => `${m.userName || m.userId}${ROLE[m.role] ? ` (${ROLE[m.role]})` : ''}`);
      say(`#${ch.title} ${ch.channelId}\nmembers: ${names.join(', ')}`);
    };
    switch (sub) {
      case 'create': {
        need(rest, 1, 'group create <title> <members...>');
        const r = await api.chat.createGroup({ title: rest[0]!, members: rest.slice(1) });
        return showGroup(r.channel!);
      }
      case 'add': {
        need(rest, 2, 'group add <channel> <members...>');
        const channelId = await dir.resolveTarget(rest[0]!);
        const r = await api.chat.addMembers({ channelId, members: rest.slice(1) });
        return showGroup(r.channel!);
      }
      case 'remove': {
        need(rest, 2, 'group remove <channel> <member>');
        const channelId = await dir.resolveTarget(rest[0]!);
        await api.chat.removeMember({ channelId, member: rest[1]! });
        return say(`removed ${rest[1]} from ${rest[0]}`);
      }
      case 'leave': {
        need(rest, 1, 'group leave <channel>');
        const channelId = await dir.resolveTarget(rest[0]!);
        await api.chat.leaveChannel({ channelId });
        return say(`left ${rest[0]}`);
      }
      default:
        throw new CliError('usage: chat group create <title> <members...> | add <channel> <members...> | remove <channel> <member> | leave <channel>');
    }
  });
}

/** `chat read <channel> [id]`: marks a channel read up to a message (default: its newest). */
export async function read(ctx: Ctx, args: string[]) {
  need(args, 1, 'read <user-or-channel> [message-id]');
  let id = args[1] === undefined ? undefined : Number(args[1]);
  if (id !== undefined && (!Number.isSafeInteger(id) || id < 0)) throw new CliError(`bad message id "${args[1]}"`);
  await withSession(ctx, async ({ api, dir }) => {
    const channelId = await dir.resolveTarget(args[0]!);
    if (id === undefined) {
      const r = await api.chat.describeChannel({ channelId });
      id = r.channel?.lastMessageId ?? 0;
    }
    await api.chat.markRead({ channelId, lastReadMessageId: id });
    say(`marked ${args[0]} read up to #${id}`);
  });
}

/** `chat presence <users...>`: online/offline and last activity of contacts. */
export async function presence(ctx: Ctx, args: string[]) {
  need(args, 1, 'presence <users...>');
  await withSession(ctx, async ({ api, dir }) => {
    const ids = await dir.userIds(args);
    const r = await api.presence.getPresence({ userIds: ids });
    const byId = new Map(r.presences.map((p) => [p.userId, p]));
    ids.forEach((id, i) => {
      const p = byId.get(id);
      const state = p?.state === PresenceState.PRESENCE_STATE_ONLINE ? 'online' : 'offline';
      say(`${args[i]!.padEnd(16)} ${state.padEnd(7)}  last active ${ago(p?.lastActiveAtMs ?? 0)}`);
    });
  });
}

/** `chat revoke <device>`: signs another device of the account out (its streams end, its tokens die). */
export async function revoke(ctx: Ctx, args: string[]) {
  need(args, 1, 'revoke <device>');
  await withSession(ctx, async ({ api }) => {
    await api.accounts.revokeDevice({ deviceId: args[0]! });
    say(`device ${args[0]} signed out`);
  });
}

/** `chat logout`: signs this device out on the server and forgets the profile's tokens. */
export async function logout(ctx: Ctx) {
  await withSession(ctx, async ({ api, profile }) => {
    await api.accounts.logout({});
    writeProfile(ctx.profileName, { ...(readProfile(ctx.profileName) ?? profile), token: '', refreshToken: '', expiresAtMs: 0 });
    say(`device ${profile.deviceId} signed out`);
  });
}

/** `chat passwd`: changes the password; every other device of the account is signed out. */
export async function passwd(ctx: Ctx) {
  const oldPassword = ctx.password ?? (await askPassword('current password: '));
  const newPassword = ctx.newPassword ?? (await askPassword('new password (8+ characters): '));
  await withSession(ctx, async ({ api }) => {
    const r = await api.accounts.changePassword({ oldPassword, newPassword });
    say(`password changed; ${r.revokedDevices} other device(s) signed out`);
  });
}
