import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError } from './errors.js';

/** Reads one line from a non-TTY stdin (a pipe or a file); '' at end of input. */
export function readStdinLine(): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, terminal: false });
    let done = false;
    const finish = (s: string) => {
      if (done) return;
      done = true;
      rl.close();
      resolve(s);
    };
    rl.once('line', (l) => finish(l));
    rl.once('close', () => finish(''));
  });
}

/**
 * Asks for a password: on a terminal without echo, otherwise the first line
 * of stdin (so scripts can pipe it in). Throws when nothing was given.
 */
export async function askPassword(question = 'password: '): Promise<string> {
  let pw: string;
  if (!process.stdin.isTTY) {
    pw = await readStdinLine();
  } else {
    let muted = false;
    const out = new Writable({
      write(chunk, enc, cb) {
        if (!muted) process.stdout.write(chunk, enc as BufferEncoding);
        cb();
      },
    });
    const rl = createInterface({ input: process.stdin, output: out, terminal: true });
    rl.on('SIGINT', () => {
      process.stdout.write('\n');
      process.exit(130);
    });
    process.stdout.write(question);
    muted = true;
    pw = await new Promise<string>((resolve) => rl.question('', resolve));
    muted = false;
    process.stdout.write('\n');
    rl.close();
  }
  if (!pw) throw new CliError('no password given');
  return pw;
}
