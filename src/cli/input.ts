import { createInterface, type Interface } from 'node:readline';
import type { Printer } from './format.js';

/** How long after the last keystroke "typing" is switched off again. */
const TYPING_IDLE_MS = 5_000;

/** What the input side tells the session. */
export interface InputHandlers {
  /** A non-empty line to send. */
  line(body: string): void;
  /** Typing started (first keystroke of a line) or stopped (idle, sent). TTY only. */
  typing(on: boolean): void;
  /** Ctrl-C, Ctrl-D or end of input. */
  close(): void;
}

/**
 * Lines from stdin. On a terminal: a `> ` prompt that the printer redraws
 * around incoming lines, typing on/off from keystrokes, and the echoed input
 * replaced by the acknowledged message. Elsewhere (a pipe): plain lines.
 */
export class LineInput {
  private readonly rl: Interface;
  private typingOn = false;
  private idle?: NodeJS.Timeout;

  constructor(
    out: Printer,
    private readonly h: InputHandlers,
  ) {
    const tty = !!process.stdin.isTTY;
    const rl = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
    this.rl = rl;
    if (tty) {
      rl.setPrompt('> ');
      out.attach(rl);
      rl.prompt();
      process.stdin.on('keypress', (str: string | undefined, key: { name?: string; ctrl?: boolean; meta?: boolean } | undefined) => {
        const printable = !!str && str.length === 1 && str >= ' ' && !key?.ctrl && !key?.meta;
        if (printable || key?.name === 'backspace') this.keystroke();
      });
      rl.on('SIGINT', () => h.close());
    }
    rl.on('line', (line) => {
      if (tty) process.stdout.write('\x1b[1A\x1b[2K'); // the echoed input; the acked message replaces it
      const body = line.trim();
      this.setTyping(false);
      if (body) h.line(body);
      if (tty) rl.prompt();
    });
    rl.on('close', () => h.close());
  }

  /** Forgets the typing state (a new stream starts with nobody typing). */
  resetTyping() {
    this.typingOn = false;
  }

  /** Stops reading and switches typing off. */
  close() {
    this.setTyping(false);
    this.rl.close();
  }

  private keystroke() {
    this.setTyping(true);
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.setTyping(false), TYPING_IDLE_MS);
  }

  private setTyping(on: boolean) {
    if (!on) clearTimeout(this.idle);
    if (on === this.typingOn) return;
    this.typingOn = on;
    this.h.typing(on);
  }
}
