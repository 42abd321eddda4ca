import { createRequire } from 'node:module';

/**
 * The slice of npm `node-zookeeper-client` (callback API, no typings) this
 * adapter uses, wrapped in promises that give up after a deadline: the client
 * queues requests while it is disconnected and would otherwise wait forever.
 */
interface Stat {
  ephemeralOwner: Buffer;
}
type Cb<T> = (err: Error | null, value: T, stat: Stat) => void;
export interface WatchEvent {
  getType(): number;
  getPath(): string;
}
type Watcher = (event: WatchEvent) => void;

export interface RawClient {
  connect(): void;
  close(): void;
  on(event: 'connected' | 'disconnected' | 'expired', listener: () => void): void;
  removeAllListeners(): void;
  getState(): { code: number };
  getSessionId(): Buffer;
  getSessionPassword(): Buffer;
  create(path: string, data: Buffer | null, acls: unknown, mode: number, cb: Cb<string>): void;
  remove(path: string, version: number, cb: (err: Error | null) => void): void;
  setData(path: string, data: Buffer, version: number, cb: Cb<Stat>): void;
  getData(path: string, watcher: Watcher | undefined, cb: Cb<Buffer | undefined>): void;
  getChildren(path: string, watcher: Watcher | undefined, cb: Cb<string[]>): void;
  mkdirp(path: string, cb: Cb<string>): void;
}

interface Module {
  createClient(
    connect: string,
    options: { sessionTimeout: number; spinDelay: number; retries: number; sessionId?: Buffer; sessionPassword?: Buffer },
  ): RawClient;
  ACL: { OPEN_ACL_UNSAFE: unknown };
  CreateMode: { EPHEMERAL: number };
  Event: { NODE_DELETED: number };
  State: { SYNC_CONNECTED: { code: number } };
  Exception: { NO_NODE: number; NODE_EXISTS: number };
}

export const zk = createRequire(import.meta.url)('node-zookeeper-client') as Module;

/** The ZooKeeper error code of a failed call (undefined for a timeout or any other error). */
export const zkCode = (e: unknown) => (e as { getCode?: () => number }).getCode?.();

/** One client (one session at a time) with deadline-bound promise calls. */
export class ZkCalls {
  constructor(
    readonly raw: RawClient,
    private readonly timeoutMs: number,
  ) {}

  get connected() {
    return this.raw.getState().code === zk.State.SYNC_CONNECTED.code;
  }

  createEphemeral(path: string, data: Buffer) {
    return this.call<string>((cb) => this.raw.create(path, data, zk.ACL.OPEN_ACL_UNSAFE, zk.CreateMode.EPHEMERAL, cb));
  }

  remove(path: string) {
    return this.call<void>((cb) => this.raw.remove(path, -1, (e) => cb(e, undefined)));
  }

  setData(path: string, data: Buffer) {
    return this.call<Stat>((cb) => this.raw.setData(path, data, -1, cb));
  }

  getData(path: string, watcher?: Watcher) {
    return this.call<[Buffer | undefined, Stat]>((cb) => this.raw.getData(path, watcher, (e, data, stat) => cb(e, [data, stat])));
  }

  getChildren(path: string, watcher?: Watcher) {
    return this.call<string[]>((cb) => this.raw.getChildren(path, watcher, cb));
  }

  mkdirp(path: string) {
    return this.call<string>((cb) => this.raw.mkdirp(path, cb));
  }

  private call<T>(start: (cb: (err: Error | null, value: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ZooKeeper did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      timer.unref();
      start((err, value) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value);
      });
    });
  }
}
