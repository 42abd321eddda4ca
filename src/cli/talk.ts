import { randomUUID } from 'node:crypto';
import type { ChatClient, ChatSession, SessionEvent } from '../client/index.js';
import { CursorBook } from '../client/index.js';
import { codeName, describeError } from './errors.js';
import { Directory } from './directory.js';
import { Printer } from './format.js';
import { LineInput } from './input.js';
import { saveCursors, type Profile } from './profile.js';
import { cliClient, freshProfile } from './session.js';
import { Renderer } from './render.js';

const HEARTBEAT_MS = 5_000;
const ACK_EVERY_MS = 1_000;
const MAX_RECONNECTS = 5;

/** Where and as whom `talk`/`tail` runs. */
export interface TalkOptions {
  server: string;
  profileName: string;
  /** A user name, `#group title` or channel id to send stdin lines to; absent for `tail`. */
  target?: string;
  /** Read lines from stdin and send them (talk); false for tail. */
  input: boolean;
}

/**
 * The interactive session: one SDK session (ChatSession: it reconnects,
 * resumes and resends by itself), printing everything that arrives, sending
 * stdin lines and persisting delivery cursors.
 */
class Talk {
  private readonly api: ChatClient;
  private readonly dir: Directory;
  private readonly out = new Printer();
  private readonly cursors: CursorBook;
  private render!: Renderer;
  private session!: ChatSession;
  private target?: string;
  private input?: LineInput;
  private chain: Promise<void> = Promise.resolve();
  /** Lines sent and not yet shown as confirmed, by client_msg_id. */
  private readonly pending = new Map<string, { channelId: string; body: string }>();
  private stopping = false;
  private saveScheduled = false;
  private lastRead = 0;
  private finish!: (code: number) => void;
  readonly done = new Promise<number>((resolve) => (this.finish = resolve));

  constructor(
    private readonly opts: TalkOptions,
    private readonly profile: Profile,
  ) {
    this.api = cliClient(opts.server, opts.profileName, profile);
    this.dir = new Directory(this.api, profile);
    this.cursors = new CursorBook(profile.cursors);
  }

  async start() {
    await this.dir.load();
    this.cursors.keepOnly(this.dir.ids());
    if (this.opts.target) {
      this.target = await this.dir.resolveTarget(this.opts.target);
      if (!(await this.dir.refresh(this.target))) {
        await this.api.chat.describeChannel({ channelId: this.target }); // throws the reason
      }
    }
    this.render = new Renderer(this.dir, this.out, this.profile, this.target);
    const where = this.target ? `talking in ${this.dir.label(this.target)}` : 'tailing all channels';
    const how = this.opts.input ? (process.stdin.isTTY ? '; type and press Enter, Ctrl-D to quit' : '') : '; Ctrl-C to quit';
    process.stderr.write(`-- ${this.profile.userName} ${where}${how} --\n`);
    this.connect();
    if (this.opts.input) this.readInput();
    const stop = () => void this.shutdown(0);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }

  private connect() {
    let first = true;
    this.session = this.api.connect({
      cursors: this.cursors,
      seeds: () => [this.opts.server],
      heartbeatMs: HEARTBEAT_MS,
      ackEveryMs: ACK_EVERY_MS,
      maxAttempts: MAX_RECONNECTS,
      backoffMs: (n) => 250 * 2 ** n + Math.floor(Math.random() * 250),
      beforeConnect: async () => {
        this.input?.resetTyping();
        if (first) return void (first = false);
        await this.dir.load(); // channels left or joined while away
        this.cursors.keepOnly(this.dir.ids());
      },
    });
    void this.pump();
  }

  private async pump() {
    try {
      for await (const e of this.session) this.onEvent(e);
    } catch (e) {
      if (this.stopping) return;
      this.out.warn(`error: ${describeError(e)}`);
      void this.shutdown(1);
    }
  }

  private onEvent(f: SessionEvent) {
    this.enqueue(async () => {
      switch (f.$case) {
        case 'message': {
          const m = f.message;
          this.markSeen(m.channelId);
          // Sends of this stream come back as acks; our own message here was sent by an earlier
          // stream (replayed after a reconnect): show it once, as confirmed.
          if (m.change) return this.render.change(m);
          const mine = this.pending.get(m.clientMsgId);
          if (mine && m.senderUserId === this.profile.userId && m.senderDeviceId === this.profile.deviceId) {
            this.pending.delete(m.clientMsgId);
            return this.render.ownMessage(m.channelId, m.id, m.sentAtMs, m.body, false);
          }
          return this.render.message(m);
        }
        case 'sendAck': {
          const a = f.sendAck;
          this.markSeen(a.channelId);
          const p = this.pending.get(a.clientMsgId);
          if (!p) return; // already shown (a replay of it came first)
          this.pending.delete(a.clientMsgId);
          return this.render.ownMessage(a.channelId, a.messageId, a.sentAtMs, p.body, a.duplicate);
        }
        case 'sendError': {
          const p = this.pending.get(f.sendError.clientMsgId);
          this.pending.delete(f.sendError.clientMsgId);
          return this.out.warn(`error: not sent "${p?.body ?? ''}": ${f.sendError.message} (${codeName(f.sendError.code)})`);
        }
        case 'caughtUp':
          this.markSeen(this.target ?? '');
          return this.out.line('-- caught up --');
        case 'presence':
          return this.render.presenceChange(f.presence);
        case 'typing':
          return this.render.typing(f.typing);
        case 'membership':
          return this.render.membership(f.membership);
        case 'reconnect': {
          const r = f.reconnect;
          return this.out.warn(`* server asks to reconnect${r.server?.address ? ` to ${r.server.address}` : ''}: ${r.reason}`);
        }
        case 'connecting':
          if (this.session.reconnects) this.out.warn(`* reconnecting to ${f.address} (attempt ${f.attempt})`);
          return;
        case 'disconnected':
          if (f.attempt === 0) return this.out.warn(`* disconnected: ${f.details} (${codeName(f.code)}); reconnecting`);
          return this.out.warn(`* reconnect attempt ${f.attempt} failed: ${f.details} (${codeName(f.code)})`);
        case 'error':
          return this.out.warn(`error: ${f.error.frame} frame refused: ${f.error.message} (${codeName(f.error.code)})`);
        case 'receipt':
          if (f.receipt.channelId !== this.target) return;
          return this.render.tick(f.receipt.channelId, f.receipt.userId, f.receipt.lastReadMessageId, true);
        case 'delivery':
          if (f.delivery.channelId !== this.target) return;
          return this.render.tick(f.delivery.channelId, f.delivery.userId, f.delivery.lastDeliveredMessageId, false);
      }
    });
    this.scheduleSave();
  }

  /** Runs output work in arrival order (name look-ups are async). */
  private enqueue(fn: () => Promise<void> | void) {
    this.chain = this.chain.then(fn).catch((e) => this.out.warn(`error: ${describeError(e)}`));
  }

  private write(frame: Parameters<ChatSession['write']>[0]): boolean {
    return this.session.write(frame);
  }

  /** Marks the target channel read up to what was shown (talk only, once per id). */
  private markSeen(channelId: string) {
    if (!this.opts.input || channelId !== this.target) return;
    const id = this.cursors.get(channelId);
    if (id > this.lastRead && this.write({ $case: 'read', read: { channelId, lastReadMessageId: id } })) this.lastRead = id;
  }

  private scheduleSave() {
    if (this.saveScheduled) return;
    this.saveScheduled = true;
    setImmediate(() => {
      this.saveScheduled = false;
      void this.chain.then(() => this.save());
    });
  }

  private save() {
    const changed = this.cursors.takeUnsaved();
    if (changed) saveCursors(this.opts.profileName, this.profile.userId, changed);
  }

  private readInput() {
    this.input = new LineInput(this.out, {
      line: (body) => this.send(body),
      typing: (on) => this.target && this.write({ $case: 'typing', typing: { channelId: this.target, typing: on } }),
      close: () => void this.shutdown(0),
    });
  }

  /** A line: a message, or `/edit <id> <text>`, `/delete <id>`, `/react <id> <emoji>` (`/unreact`), `/reply <id> <text>`. */
  private send(line: string) {
    if (!this.target) return;
    const channelId = this.target;
    const cmd = /^\/(edit|delete|react|unreact|reply)\s+(\d+)\s*(.*)$/s.exec(line);
    if (line.startsWith('/') && !cmd)
      return this.out.warn('usage: /edit <id> <text>, /delete <id>, /react <id> <emoji>, /unreact <id> <emoji>, /reply <id> <text>');
    const [, verb, idText, rest] = cmd ?? [];
    const messageId = Number(idText ?? 0);
    if (verb === 'edit') return void this.write({ $case: 'edit', edit: { channelId, messageId, clientMsgId: randomUUID(), body: rest ?? '' } });
    if (verb === 'delete') return void this.write({ $case: 'delete', delete: { channelId, messageId } });
    if (verb === 'react' || verb === 'unreact') {
      return void this.write({ $case: 'react', react: { channelId, messageId, emoji: (rest ?? '').trim(), remove: verb === 'unreact' } });
    }
    const body = verb === 'reply' ? (rest ?? '') : line;
    const clientMsgId = randomUUID();
    const replyToId = verb === 'reply' ? messageId : undefined;
    this.pending.set(clientMsgId, { channelId, body });
    void this.session.send({ clientMsgId, channelId, body, replyToId, firstAttempt: true });
  }

  /** Ends cleanly: waits (bounded) for outstanding sends, acks, saves and half-closes. */
  async shutdown(code: number) {
    if (this.stopping) return;
    this.stopping = true;
    const graceful = code === 0 && !process.stdin.isTTY;
    if (graceful && this.session.connected) await this.session.settled(5_000);
    if (graceful) await sleep(300);
    this.input?.close();
    const unconfirmed = this.session.unacked.size;
    if (unconfirmed) this.out.warn(`warning: ${unconfirmed} message(s) were not confirmed by the server`);
    await this.chain;
    await this.session.close(); // acks what was received, half-closes
    this.save();
    this.api.close();
    if (process.stdout.isTTY) process.stdout.write('\n');
    this.finish(code);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `chat talk` / `chat tail`: resolves with the process exit code. */
export async function runTalk(opts: TalkOptions): Promise<number> {
  const talk = new Talk(opts, await freshProfile(opts.profileName, opts.server));
  await talk.start();
  return talk.done;
}
