import { type NodeLoad, Placement } from '../../domain/placement.js';
import type { Membership, SelfInfo } from '../../ports/Registry.js';
import { type WatchEvent, zk, ZkCalls, zkCode } from './zkClient.js';

export interface ZooKeeperRegistryOptions {
  /** The ensemble: "host:port,host:port,..." (an optional chroot suffix is allowed). */
  connect: string;
  /** Parent of this cluster's znodes; nodes live under `<root>/nodes`. */
  root?: string;
  /** Asked of the ensemble (it clamps to its min/max): how long a silent node keeps its znode. */
  sessionTimeoutMs?: number;
  /** Least time between two load writes of this node's znode. */
  loadIntervalMs?: number;
  /** Told about background failures (the registry retries on its own). */
  onError?: (err: unknown, what: string) => void;
}

/**
 * Cluster membership in ZooKeeper. Each node holds an ephemeral znode
 * `<root>/nodes/<nodeId>` with its address, region, capacity and
 * connections; the ensemble deletes it when the node's session ends (a
 * crashed or cut-off node is gone within the session timeout). The load is
 * rewritten when it changed, at most once per `loadIntervalMs`. Every
 * registry watches the children of `<root>/nodes` and the data of each child,
 * so its local view follows joins, leaves and load within a notification.
 * `pick` reads that view only: it never waits on ZooKeeper, and while the
 * ensemble is unreachable the last good view stays in place. When the session
 * expires (ZooKeeper dropped us and our znode) a new session is opened, the
 * znode written again and the watches set again.
 */
export class ZooKeeperRegistry implements Membership {
  /** Counts this node's own recent answers, so a storm over a stale view does not land on one node. */
  private readonly placement = new Placement();
  private readonly nodesPath: string;
  private readonly timeoutMs: number;
  private readonly loadIntervalMs: number;
  private zk: ZkCalls;
  private readonly view = new Map<string, NodeLoad>();
  private self?: SelfInfo;
  private load: () => number = () => 0;
  private left = true;
  private closed = false;
  /** A node that left hides itself even from answers already in flight. */
  private hidden?: string;
  /** Connections last written to our znode; undefined until it is known to exist in this session. */
  private written?: number;
  private writing?: Promise<void>;
  private loadTimer?: NodeJS.Timeout;
  /** Sessions opened so far (1 + re-registrations after expiry), for operators and tests. */
  sessions = 0;

  constructor(private readonly opts: ZooKeeperRegistryOptions) {
    const root = (opts.root ?? '/chat').replace(/\/+$/, '');
    this.nodesPath = `${root}/nodes`;
    this.timeoutMs = opts.sessionTimeoutMs ?? 10_000;
    this.loadIntervalMs = opts.loadIntervalMs ?? 1000;
    this.zk = this.open();
  }

  /**
   * Writes this node's znode and starts the load refresh. Throws if the
   * ensemble cannot be reached within the session timeout, so a node that
   * cannot be found fails at start-up instead of serving unseen.
   */
  async join(self: SelfInfo, load: () => number) {
    this.self = self;
    this.load = load;
    this.hidden = undefined;
    this.left = false;
    this.written = undefined;
    await this.whenConnected();
    await this.zk.mkdirp(this.nodesPath);
    await this.write();
    clearInterval(this.loadTimer);
    this.loadTimer = setInterval(() => void this.write().catch((e) => this.opts.onError?.(e, 'load refresh')), this.loadIntervalMs);
    this.loadTimer.unref();
  }

  async pick(regionHint: string) {
    return this.placement.pick(this.visible(), regionHint);
  }

  async alternative(nodeId: string) {
    return this.placement.pick(
      this.visible().filter((n) => n.nodeId !== nodeId),
      this.self?.region ?? '',
    );
  }

  /** Deletes the znode (best effort: the session's end deletes it anyway); the watches stay for `alternative`. */
  async leave() {
    if (this.left || !this.self) return;
    this.left = true;
    clearInterval(this.loadTimer);
    await this.writing?.catch(() => {});
    this.hidden = this.self.nodeId;
    this.written = undefined;
    await this.zk.remove(this.path(this.self.nodeId)).catch(() => {});
  }

  /** Leaves if still joined, then closes the session. */
  async close() {
    await this.leave();
    this.closed = true;
    this.zk.raw.removeAllListeners();
    this.zk.raw.close();
  }

  /** This registry's current session (tests expire it from outside the way the ensemble would). */
  session() {
    return { id: this.zk.raw.getSessionId(), password: this.zk.raw.getSessionPassword() };
  }

  private visible() {
    const nodes = [...this.view.values()];
    return this.hidden ? nodes.filter((n) => n.nodeId !== this.hidden) : nodes;
  }

  private path(id: string) {
    return `${this.nodesPath}/${id}`;
  }

  private open() {
    const raw = zk.createClient(this.opts.connect, { sessionTimeout: this.timeoutMs, spinDelay: 100, retries: 0 });
    const calls = new ZkCalls(raw, this.timeoutMs);
    raw.on('connected', () => void this.onConnected(calls));
    raw.on('expired', () => this.onExpired(calls));
    raw.connect();
    this.sessions++;
    return calls;
  }

  /** ZooKeeper ended the session (and deleted our znode): a new session, then everything again. */
  private onExpired(old: ZkCalls) {
    if (this.closed || old !== this.zk) return;
    old.raw.removeAllListeners();
    old.raw.close();
    this.written = undefined;
    this.zk = this.open();
  }

  /** (Re)connected, maybe to another server: re-read the membership, and make sure our znode is there. */
  private async onConnected(calls: ZkCalls) {
    if (this.closed || calls !== this.zk) return;
    try {
      await calls.mkdirp(this.nodesPath);
      await this.readChildren();
      if (!this.left) await this.write();
    } catch (e) {
      this.opts.onError?.(e, 'resync after connect'); // the next (re)connect tries again
    }
  }

  private whenConnected() {
    const calls = this.zk;
    if (calls.connected) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ZooKeeper (${this.opts.connect}) not reachable within ${this.timeoutMs} ms`)), this.timeoutMs);
      calls.raw.on('connected', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private onChildren = () => void this.readChildren().catch((e) => this.opts.onError?.(e, 'children watch'));

  private onData = (event: WatchEvent) => {
    const id = event.getPath().slice(this.nodesPath.length + 1);
    if (event.getType() === zk.Event.NODE_DELETED) this.view.delete(id);
    else void this.readNode(id).catch((e) => this.opts.onError?.(e, 'data watch'));
  };

  /** The member list (watch set again); new members are read, gone ones dropped. */
  private async readChildren() {
    const ids = new Set(await this.zk.getChildren(this.nodesPath, this.onChildren));
    for (const id of this.view.keys()) if (!ids.has(id)) this.view.delete(id);
    await Promise.all([...ids].map((id) => this.readNode(id)));
  }

  private async readNode(id: string) {
    try {
      const [data] = await this.zk.getData(this.path(id), this.onData);
      const rec = parseRecord(id, data);
      if (rec) this.view.set(id, rec);
      else this.view.delete(id);
    } catch (e) {
      if (zkCode(e) !== zk.Exception.NO_NODE) throw e;
      this.view.delete(id);
    }
  }

  /** One write at a time: creates the znode when this session has none yet, else rewrites a changed load. */
  private write() {
    const run = async () => {
      await this.writing?.catch(() => {});
      if (this.left || this.closed || !this.self || !this.zk.connected) return;
      const connections = this.connections();
      if (this.written === connections) return;
      const data = Buffer.from(JSON.stringify({ address: this.self.address, region: this.self.region, capacity: this.self.capacity, connections }));
      if (this.written === undefined) await this.create(data);
      else await this.zk.setData(this.path(this.self.nodeId), data).catch((e) => (zkCode(e) === zk.Exception.NO_NODE ? this.create(data) : Promise.reject(e)));
      this.written = connections;
    };
    const p = run();
    this.writing = p;
    return p;
  }

  /**
   * Creates our ephemeral znode. One left by an earlier process under the same
   * node id (a restart within the old session's timeout) is replaced; our own,
   * after a reconnect within the session, is kept and rewritten.
   */
  private async create(data: Buffer) {
    const path = this.path(this.self!.nodeId);
    try {
      await this.zk.createEphemeral(path, data);
      return;
    } catch (e) {
      if (zkCode(e) !== zk.Exception.NODE_EXISTS) throw e;
    }
    const [, stat] = await this.zk.getData(path);
    if (stat.ephemeralOwner.equals(this.zk.raw.getSessionId())) {
      await this.zk.setData(path, data);
      return;
    }
    await this.zk.remove(path).catch((e) => (zkCode(e) === zk.Exception.NO_NODE ? undefined : Promise.reject(e)));
    await this.zk.createEphemeral(path, data);
  }

  private connections() {
    try {
      return Math.max(0, Math.round(this.load()));
    } catch {
      return this.written ?? 0;
    }
  }
}

function parseRecord(nodeId: string, data: Buffer | undefined): NodeLoad | undefined {
  try {
    const r = JSON.parse(data?.toString('utf8') ?? '') as Partial<NodeLoad>;
    if (typeof r.address !== 'string' || typeof r.region !== 'string') return undefined;
    return { nodeId, address: r.address, region: r.region, connections: Number(r.connections) || 0, capacity: Number(r.capacity) || 0 };
  } catch {
    return undefined;
  }
}
