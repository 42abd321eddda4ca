import { status, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { MembershipChange, type ClientFrame, type ServerFrame } from '../gen/chat/v1/chat.js';
import { Api, codeName, describeError, isServiceError } from './api.js';
import { CursorBook } from './cursors.js';
import { Directory } from './directory.js';
import { Printer } from './format.js';
import { LineInput } from './input.js';
import { saveCursors, type Profile } from './profile.js';
import { freshProfile } from './session.js';
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

type Frame = NonNullable<ServerFrame['frame']>;

/**
 * The interactive session: one Connect stream (re-opened on UNAVAILABLE or a
 * reconnect hint), printing everything that arrives, sending stdin lines,
 * heartbeating, acking and persisting delivery cursors.
 */
class Talk {
  private readonly api: Api;
  private readonly dir: Directory;
  private readonly out = new Printer();
  private readonly cursors: CursorBook;
  private render!: Renderer;
  private stream?: ClientDuplexStream<ClientFrame, ServerFrame>;
  private target?: string;
  private input?: LineInput;
  private chain: Promise<void> = Promise.resolve();
  private readonly pending = new Map<string, { channelId: string; body: string; replyToId?: number }>();
  private attempts = 0;
  private hint = '';
  private closing = false;
  private stopping = false;
  private reconnecting = false;
  private timers: NodeJS.Timeout[] = [];
  private saveScheduled = false;
  private lastRead = 0;
  private finish!: (code: number) => void;
  readonly done = new Promise<number>((resolve) => (this.finish = resolve));

  constructor(
    private readonly opts: TalkOptions,
    private readonly profile: Profile,
  ) {
    this.api = new Api(opts.server, profile.token);
    this.api.freshen = async () => (await freshProfile(opts.profileName, opts.server)).token;
    this.dir = new Directory(this.api, profile);
    this.cursors = new CursorBook(profile.cursors);
  }

  async start() {
    await this.dir.load();
    this.cursors.keepOnly(this.dir.ids());
    if (this.opts.target) {
      this.target = await this.dir.resolveTarget(this.opts.target);
      if (!(await this.dir.refresh(this.target))) {
        await this.api.call(this.api.chat, this.api.chat.describeChannel, { channelId: this.target }); // throws the reason
      }
    }
    this.render = new Renderer(this.dir, this.out, this.profile, this.target);
    const where = this.target ? `talking in ${this.dir.label(this.target)}` : 'tailing all channels';
    const how = this.opts.input ? (process.stdin.isTTY ? '; type and press Enter, Ctrl-D to quit' : '') : '; Ctrl-C to quit';
    process.stderr.write(`-- ${this.profile.userName} ${where}${how} --\n`);
    this.connect();
    this.timers.push(setInterval(() => this.write({ $case: 'heartbeat', heartbeat: {} }), HEARTBEAT_MS));
    this.timers.push(setInterval(() => this.flushAcks(), ACK_EVERY_MS));
    if (this.opts.input) this.readInput();
    const stop = () => void this.shutdown(0);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }

  private connect() {
    const s = this.api.chat.connect(this.api.md());
    this.stream = s;
    this.input?.resetTyping();
    s.write({ frame: { $case: 'resume', resume: { cursors: this.cursors.resume(this.dir.ids()) } } });
    for (const [clientMsgId, p] of this.pending) {
      s.write({ frame: { $case: 'send', send: { clientMsgId, channelId: p.channelId, body: p.body, replyToId: p.replyToId } } });
    }
    s.on('data', (f: ServerFrame) => f.frame && this.onFrame(f.frame));
    s.on('error', () => {}); // reported once, through 'status'
    s.on('status', (st: StatusObject) => this.onStatus(s, st));
  }

  private onFrame(f: Frame) {
    this.enqueue(async () => {
      switch (f.$case) {
        case 'message': {
          const m = f.message;
          if (!this.cursors.received(m.channelId, m.id)) return;
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
          this.cursors.sent(a.channelId, a.messageId);
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
          this.cursors.merge(f.caughtUp.cursors);
          this.attempts = 0;
          this.markSeen(this.target ?? '');
          return this.out.line('-- caught up --');
        case 'presence':
          return this.render.presenceChange(f.presence);
        case 'typing':
          return this.render.typing(f.typing);
        case 'membership': {
          const m = f.membership;
          if (m.userId === this.profile.userId && m.change !== MembershipChange.MEMBERSHIP_CHANGE_JOINED) this.cursors.drop(m.channelId);
          return this.render.membership(m);
        }
        case 'reconnect': {
          const r = f.reconnect;
          this.out.warn(`* server asks to reconnect${r.server?.address ? ` to ${r.server.address}` : ''}: ${r.reason}`);
          this.hint = r.server?.address ?? '';
          this.flushAcks();
          const old = this.stream;
          this.stream = undefined; // its status no longer matters
          old?.cancel();
          return void this.retry();
        }
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

  private onStatus(s: ClientDuplexStream<ClientFrame, ServerFrame>, st: StatusObject) {
    if (this.stream !== s) return; // an abandoned stream (after a reconnect hint)
    this.stream = undefined;
    if (this.closing) return;
    if (st.code === status.UNAVAILABLE || st.code === status.OK) {
      this.out.warn(`* disconnected: ${st.details || 'stream ended'} (${codeName(st.code)}); reconnecting`);
      void this.retry();
      return;
    }
    this.out.warn(`error: ${st.details} (${codeName(st.code)})`);
    void this.shutdown(1);
  }

  /** Reconnects with exponential backoff, at most MAX_RECONNECTS times in a row. */
  private async retry() {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      await this.reconnect();
    } finally {
      this.reconnecting = false;
    }
  }

  private async reconnect() {
    for (;;) {
      if (this.closing) return;
      if (++this.attempts > MAX_RECONNECTS) {
        this.out.warn(`error: gave up after ${MAX_RECONNECTS} reconnect attempts`);
        return void this.shutdown(1);
      }
      const delay = 250 * 2 ** this.attempts + Math.floor(Math.random() * 250);
      await new Promise((r) => setTimeout(r, delay));
      if (this.closing) return;
      try {
        this.api.retarget(this.hint || (await this.pick()));
        this.hint = '';
        await this.dir.load();
        this.out.warn(`* reconnecting to ${this.api.address} (attempt ${this.attempts})`);
        this.api.token = await this.api.freshen!();
        this.connect();
        return;
      } catch (e) {
        if (!isServiceError(e) || e.code !== status.UNAVAILABLE) {
          this.out.warn(`error: ${describeError(e)}`);
          return void this.shutdown(1);
        }
        this.out.warn(`* reconnect attempt ${this.attempts} failed: ${describeError(e)}`);
      }
    }
  }

  /** Asks discovery (on the configured server first) where to connect. */
  private async pick(): Promise<string> {
    for (const address of new Set([this.opts.server, this.api.address])) {
      const probe = new Api(address);
      try {
        const r = await probe.call(probe.discovery, probe.discovery.pickServer, { regionHint: '' });
        if (r.server?.address) return r.server.address;
      } catch {
        // try the next one
      } finally {
        probe.close();
      }
    }
    return this.opts.server;
  }

  private write(frame: ClientFrame['frame']): boolean {
    if (!this.stream) return false;
    this.stream.write({ frame });
    return true;
  }

  private flushAcks() {
    if (!this.stream) return;
    const cursors = this.cursors.takeUnacked();
    if (cursors.length) this.write({ $case: 'ack', ack: { cursors } });
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
    this.pending.set(clientMsgId, { channelId, body, replyToId });
    this.write({ $case: 'send', send: { clientMsgId, channelId, body, replyToId } });
  }

  /** Ends cleanly: waits (bounded) for outstanding sends, acks, saves and half-closes. */
  async shutdown(code: number) {
    if (this.stopping) return;
    this.stopping = true;
    const graceful = code === 0 && !process.stdin.isTTY;
    const deadline = Date.now() + 5_000;
    while (graceful && this.stream && this.pending.size && Date.now() < deadline) await sleep(50);
    if (graceful) await sleep(300);
    this.closing = true;
    this.input?.close();
    if (this.pending.size) this.out.warn(`warning: ${this.pending.size} message(s) were not confirmed by the server`);
    await this.chain;
    this.flushAcks();
    this.save();
    this.timers.forEach(clearInterval);
    const s = this.stream;
    if (s) {
      const ended = new Promise<void>((r) => s.on('status', () => r()));
      s.end();
      await Promise.race([ended, sleep(1_000)]);
      s.cancel();
    }
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
