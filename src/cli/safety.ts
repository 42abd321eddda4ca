import { ChannelKind } from '../gen/chat/v1/chat.js';
import { CliError } from './errors.js';
import { need, withSession, type Ctx } from './commands.js';
import { ago, when } from './format.js';

const say = (s: string) => process.stdout.write(s + '\n');

/** Default `mute` length when no minutes are given. */
const DEFAULT_MUTE_MIN = 8 * 60;

/** `chat invites`: pending invitations, oldest first, with the channel id to accept. */
export async function invites(ctx: Ctx) {
  await withSession(ctx, async ({ api }) => {
    const r = await api.safety.listInvitations({});
    if (r.invitations.length === 0) say('no pending invitations');
    for (const i of r.invitations) {
      const what = i.kind === ChannelKind.CHANNEL_KIND_GROUP ? `group "${i.title}"` : 'a direct chat';
      say(`${i.channelId}  ${what} from ${i.inviterUserName}, ${ago(i.createdAtMs)}`);
    }
  });
}

/** `chat accept <channel>`. */
export async function accept(ctx: Ctx, args: string[]) {
  need(args, 1, 'accept <channel>');
  await withSession(ctx, async ({ api }) => {
    const r = await api.safety.acceptInvite({ channelId: args[0]! });
    say(`joined ${r.channel!.title || 'the direct chat'} (${r.channel!.channelId})`);
  });
}

/** `chat decline <channel> [--block]`. */
export async function decline(ctx: Ctx, args: string[]) {
  need(args, 1, 'decline <channel> [--block]');
  await withSession(ctx, async ({ api }) => {
    await api.safety.declineInvite({ channelId: args[0]!, block: !!ctx.block });
    say(`declined ${args[0]}${ctx.block ? ' and blocked the inviter' : ''}`);
  });
}

/** `chat block <user>`. */
export async function block(ctx: Ctx, args: string[]) {
  need(args, 1, 'block <user>');
  await withSession(ctx, async ({ api }) => {
    await api.safety.blockUser({ user: args[0]! });
    say(`blocked ${args[0]}`);
  });
}

/** `chat unblock <user>`. */
export async function unblock(ctx: Ctx, args: string[]) {
  need(args, 1, 'unblock <user>');
  await withSession(ctx, async ({ api }) => {
    await api.safety.unblockUser({ user: args[0]! });
    say(`unblocked ${args[0]}`);
  });
}

/** `chat blocked`: whom this account blocked, newest first. */
export async function blocked(ctx: Ctx) {
  await withSession(ctx, async ({ api }) => {
    const r = await api.safety.listBlocked({});
    if (r.users.length === 0) say('you blocked nobody');
    for (const u of r.users) say(`${u.userName}  since ${when(u.blockedAtMs)}`);
  });
}

/** `chat mute <target> [minutes|off]`: no push for the channel until then. */
export async function mute(ctx: Ctx, args: string[]) {
  need(args, 1, 'mute <target> [minutes|off]');
  const arg = args[1] ?? String(DEFAULT_MUTE_MIN);
  const minutes = arg === 'off' ? 0 : Number(arg);
  if (!Number.isSafeInteger(minutes) || minutes < 0) throw new CliError(`mute length must be whole minutes or "off", not "${arg}"`);
  await withSession(ctx, async ({ api, dir }) => {
    const channelId = await dir.resolveTarget(args[0]!);
    const untilMs = minutes === 0 ? 0 : Date.now() + minutes * 60_000;
    await api.safety.muteChannel({ channelId, untilMs });
    say(minutes === 0 ? `unmuted ${args[0]}` : `muted ${args[0]} until ${when(untilMs)}`);
  });
}
