import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const CHAT = join(process.cwd(), 'bin', 'chat.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI's environment: a private CHAT_HOME and the test node, no profile from the caller. */
export function childEnv(home: string, server: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CHAT_HOME: home, CHAT_SERVER: server };
  delete env['CHAT_PROFILE'];
  return env;
}

/** Runs `node bin/chat.js ...args` without blocking the in-process node; killed after `ms`. */
export function chat(home: string, server: string, args: string[], ms = 10_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CHAT, ...args], { env: childEnv(home, server), timeout: ms, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
