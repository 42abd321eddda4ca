import type { Interface } from 'node:readline';

const pad = (n: number) => String(n).padStart(2, '0');

/** Local wall-clock time as HH:MM:SS. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A timestamp for listings: `YYYY-MM-DD HH:MM:SS`, or "never" for 0. */
export function when(ms: number): string {
  if (!ms) return 'never';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

/** How long ago, roughly: "12s ago", "5m ago", "3h ago", "2d ago". */
export function ago(ms: number, now = Date.now()): string {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** What a message line shows besides the text: a reply, edits, a delete, reactions. */
export interface LineState {
  replyToId?: number;
  state?: { editCount: number; deleted: boolean; reactions: { emoji: string; count: number; me: boolean }[] };
}

/** The message line: `[HH:MM:SS] #id alice: text`, with an optional channel prefix; `↪#n` for a reply, `(edited)`, `(deleted)`, reactions. */
export function messageLine(m: { id: number; sentAtMs: number; body: string } & LineState, sender: string, prefix = ''): string {
  const head = prefix ? `${prefix} ` : '';
  const reply = m.replyToId ? `↪#${m.replyToId} ` : '';
  const st = m.state;
  const text = st?.deleted ? '(deleted)' : `${m.body}${st?.editCount ? ' (edited)' : ''}`;
  const reactions = st?.reactions.length ? ` [${st.reactions.map((r) => `${r.emoji}${r.count}${r.me ? '*' : ''}`).join(' ')}]` : '';
  return `${head}[${clock(m.sentAtMs)}] #${m.id} ${sender}: ${reply}${text}${reactions}`;
}

/**
 * Writes whole lines to stdout. While a TTY prompt is active, it clears the
 * half-typed input line first and redraws it afterwards, so incoming messages
 * never land in the middle of what the user is typing.
 */
export class Printer {
  private rl?: Interface;

  /** Attaches the readline prompt to redraw (TTY only). */
  attach(rl: Interface | undefined) {
    this.rl = rl;
  }

  /** Prints one line. */
  line(text: string) {
    if (!this.rl) {
      process.stdout.write(text + '\n');
      return;
    }
    process.stdout.write('\r\x1b[2K' + text + '\n');
    this.rl.prompt(true);
  }

  /** Prints a line to stderr (diagnostics that are not chat traffic). */
  warn(text: string) {
    if (this.rl) process.stdout.write('\r\x1b[2K');
    process.stderr.write(text + '\n');
    this.rl?.prompt(true);
  }
}
