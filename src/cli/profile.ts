import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './errors.js';

/** What one `--as <profile>` remembers between runs. */
export interface Profile {
  userName: string;
  userId: string;
  deviceId: string;
  token: string;
  /** When the access token expires, ms since the epoch (0 if unknown). */
  expiresAtMs?: number;
  /** Exchanged for new tokens when the access token expires (see session.ts). */
  refreshToken?: string;
  refreshExpiresAtMs?: number;
  /** Per channel: the highest message id this device has received. */
  cursors: Record<string, number>;
}

const PROFILE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The directory holding profiles: $CHAT_HOME or ~/.config/grpc-chat. */
export function chatHome(): string {
  return process.env['CHAT_HOME'] || join(homedir(), '.config', 'grpc-chat');
}

/** The JSON file of a profile; rejects names that could escape the directory. */
export function profilePath(name: string): string {
  if (!PROFILE_NAME.test(name) || name.startsWith('.')) {
    throw new CliError(`bad profile name "${name}": use letters, digits, '_', '-', '.'`);
  }
  return join(chatHome(), `${name}.json`);
}

/** Reads a profile, or undefined when it does not exist yet. */
export function readProfile(name: string): Profile | undefined {
  const path = profilePath(name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read profile ${path}: ${(e as Error).message}`);
  }
  try {
    const p = JSON.parse(text) as Profile;
    return { ...p, cursors: p.cursors ?? {} };
  } catch {
    throw new CliError(`profile ${path} is not valid JSON; delete it and log in again`);
  }
}

/** Reads a profile that must hold a login; otherwise tells the user what to run. */
export function requireProfile(name: string): Profile {
  const p = readProfile(name);
  if (!p?.token) {
    const as = name === 'default' ? '' : ` --as ${name}`;
    throw new CliError(`profile "${name}" is not logged in; run: chat${as} register <user>  (or: chat${as} login <user>)`);
  }
  return p;
}

/** Writes a profile atomically with mode 0600 (the directory gets 0700). */
export function writeProfile(name: string, p: Profile) {
  const path = profilePath(name);
  mkdirSync(chatHome(), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(p, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/**
 * Saves cursors into the profile on disk, keeping the higher id per channel
 * (`null` removes a channel) and leaving other fields as another process
 * (e.g. `chat login`) last wrote them. Nothing is saved if the profile now
 * belongs to another user.
 */
export function saveCursors(name: string, userId: string, cursors: Record<string, number | null>) {
  const current = readProfile(name);
  if (!current || current.userId !== userId) return;
  const merged = { ...current.cursors };
  for (const [ch, id] of Object.entries(cursors)) {
    if (id === null) delete merged[ch];
    else merged[ch] = Math.max(merged[ch] ?? 0, id);
  }
  writeProfile(name, { ...current, cursors: merged });
}
