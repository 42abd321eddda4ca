import { parseArgs } from 'node:util';
import { CliError, describeError, isServiceError } from './errors.js';
import * as cmd from './commands.js';
import { runTalk } from './talk.js';
import * as safety from './safety.js';

/** The text of `chat help`. */
export const USAGE = `chat: a terminal client for the gRPC chat platform

usage: chat [--server host:port] [--as profile] <command> [args]

accounts
  register [user] [--password p]           create an account and log in (password prompted if omitted;
                                            user defaults to the --as profile name)
  login [user] [--password p] [--device id] log in this profile (default device: cli-<hostname>)
  whoami                                    show the profile's user, device and token expiry
  devices                                   list the account's devices and whether they are online
  revoke <device>                           sign another device of the account out
  logout                                    sign this device out
  passwd [--password old] [--new-password new]  change the password (signs every other device out)
                                            (access tokens renew themselves with the saved refresh token)

chatting  (<target>: a user name, #group-title, or a channel id g_... / d_...)
  talk <target>                             live chat: shows all channels, sends each stdin line to <target>
  tail                                      like talk, without input
  send <target> <text...>                   send one message
  dm <user>                                 print the direct channel id with <user>
  history <target> [--limit n]              the latest messages (default 50), oldest first
  read <target> [message-id]                mark read up to a message (default: the newest)

channels and groups
  channels                                  your channels: name, id, unread count
  group create <title> <members...>         create a group (you are its owner)
  group add <channel> <members...>          add members
  group remove <channel> <member>           remove a member
  group leave <channel>                     leave a group
  presence <users...>                       online/offline and last activity of your contacts

consent  (someone who shares no channel with you invites you instead of adding you)
  invites                                   your pending invitations
  accept <channel>                          accept an invitation (a direct channel brings its messages)
  decline <channel> [--block]               decline an invitation (and block the inviter)
  block <user> / unblock <user>             block or unblock a user; blocked: list whom you blocked
  mute <target> [minutes|off]               no push for a channel (default: 8 hours); "off" unmutes

options
  --server host:port   node to use (env CHAT_SERVER, default 127.0.0.1:50051)
  --as profile         local profile (env CHAT_PROFILE, default "default"); one user per profile,
                       stored in \${CHAT_HOME:-~/.config/grpc-chat}/<profile>.json
  -h, --help           this text

two terminals:  chat --as alice register          chat --as bob register
                chat --as alice talk bob          chat --as bob talk alice
`;

const OPTIONS = {
  server: { type: 'string' },
  as: { type: 'string' },
  password: { type: 'string' },
  'new-password': { type: 'string' },
  device: { type: 'string' },
  limit: { type: 'string' },
  block: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The one-shot commands, by name (talk and tail run until stopped). */
const COMMANDS = new Map<string, (ctx: cmd.Ctx, args: string[]) => Promise<unknown>>([
  ['register', cmd.register],
  ['login', cmd.login],
  ['whoami', cmd.whoami],
  ['devices', cmd.devices],
  ['revoke', cmd.revoke],
  ['logout', cmd.logout],
  ['passwd', cmd.passwd],
  ['dm', cmd.dm],
  ['send', cmd.send],
  ['history', cmd.history],
  ['channels', cmd.channels],
  ['group', cmd.group],
  ['read', cmd.read],
  ['presence', cmd.presence],
  ['invites', safety.invites],
  ['accept', safety.accept],
  ['decline', safety.decline],
  ['block', safety.block],
  ['unblock', safety.unblock],
  ['blocked', safety.blocked],
  ['mute', safety.mute],
]);

/** Parses argv, runs one command and returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\nrun "chat help" for usage`);
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || !command || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const ctx = contextOf(values);
  const oneShot = COMMANDS.get(command);
  if (oneShot) {
    await oneShot(ctx, args);
    return 0;
  }
  switch (command) {
    case 'talk':
      if (args.length !== 1) throw new CliError('usage: chat talk <user-or-channel>');
      return runTalk({ server: ctx.server, profileName: ctx.profileName, target: args[0], input: true });
    case 'tail':
      if (args.length !== 0) throw new CliError('usage: chat tail');
      return runTalk({ server: ctx.server, profileName: ctx.profileName, input: false });
    default:
      throw new CliError(`unknown command "${command}"; run "chat help" for usage`);
  }
}

/** The command context from the options and the environment. */
function contextOf(values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>['values']): cmd.Ctx {
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new CliError(`--limit must be a positive integer, not "${values.limit}"`);
  }
  return {
    server: values.server || process.env['CHAT_SERVER'] || '127.0.0.1:50051',
    profileName: values.as || process.env['CHAT_PROFILE'] || 'default',
    password: values.password,
    block: values.block,
    newPassword: values['new-password'],
    device: values.device,
    limit,
  };
}

/** Prints a failure as one line; stack traces only for bugs (not gRPC or usage errors). */
function report(e: unknown) {
  if (isServiceError(e) || e instanceof CliError) process.stderr.write(`error: ${describeError(e)}\n`);
  else process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    report(e);
    process.exit(1);
  },
);
