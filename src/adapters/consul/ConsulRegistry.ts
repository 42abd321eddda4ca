import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import Consul from 'consul';
import { Placement } from '../../domain/placement.js';
import type { Membership, NodeInfo, SelfInfo } from '../../ports/Registry.js';

export interface ConsulRegistryOptions {
  host: string;
  port: number;
  /** Consul service name shared by every chat node. */
  serviceName?: string;
  /** TTL of this node's health check; it is passed every ttl/3. Fractions allowed. */
  ttlSeconds?: number;
  /** Go duration after which Consul removes a node stuck critical (Consul's floor is 1m). */
  deregisterAfter?: string;
  /** Stored in the service Meta for operators and future placement; `pick` does not use it. */
  zone?: string;
  /** Longest a blocking query is held by Consul when nothing changes. */
  waitSeconds?: number;
}

interface ViewNode extends NodeInfo {
  connections: number;
  capacity: number;
}

/** The slice of the `consul` client used here: its typings lack `index`, `wait`, `ctx`, `timeout`. */
type Call = (o: object) => Promise<unknown>;
interface Client {
  agent: { service: { register: Call; deregister: Call }; check: { pass: Call } };
  health: { service(o: object): Promise<[{ headers: Record<string, string | string[] | undefined> }, unknown]> };
  destroy(): void;
}

const MIN_QUERY_GAP_MS = 50; // Consul's advice: rate-limit blocking queries in case the index churns
const [BACKOFF_BASE_MS, BACKOFF_MAX_MS] = [100, 5000];

/**
 * Cluster membership in Consul, kept thin: each node registers itself with the
 * local agent (Meta carries region, load and capacity) and keeps a TTL check
 * alive, so a frozen or dead node turns critical within one TTL and Consul
 * removes it after `deregisterAfter`. Each registry keeps a local view of the
 * passing nodes through a loop of blocking `health/service?passing` queries:
 * Consul answers as soon as the set changes, so the view follows membership
 * within a round trip without polling. `pick` reads that view only: it never
 * waits on Consul, and a Consul outage leaves the last good view in place
 * while the loop retries with backoff.
 */
export class ConsulRegistry implements Membership {
  /** Counts this node's own recent answers, so a storm over a stale view does not land on one node. */
  private readonly placement = new Placement();
  private readonly consul: Client;
  private readonly service: string;
  private readonly ttlMs: number;
  private readonly waitMs: number;
  private readonly callTimeoutMs: number;
  private view: ViewNode[] = [];
  private self?: SelfInfo;
  private load: () => number = () => 0;
  private left = true;
  /** A node that left hides itself even from answers already in flight. */
  private hidden?: string;
  private registered?: number; // connections last written to Meta
  private needsRegister = false;
  private tickTimer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private inflight?: EventEmitter;
  private readonly stop = new AbortController();
  private readonly watching: Promise<void>;

  constructor(private readonly opts: ConsulRegistryOptions) {
    this.consul = new Consul({ host: opts.host, port: opts.port }) as unknown as Client;
    this.service = opts.serviceName ?? 'chat';
    this.ttlMs = Math.round((opts.ttlSeconds ?? 10) * 1000);
    this.waitMs = Math.round((opts.waitSeconds ?? 30) * 1000);
    this.callTimeoutMs = Math.min(5000, Math.max(500, this.ttlMs / 3));
    this.watching = this.watch();
  }

  /**
   * Registers this node (check already passing) and starts the keep-alive.
   * Throws if the first registration fails, so a node that cannot be found
   * fails at start-up instead of serving unseen.
   */
  async join(self: SelfInfo, load: () => number) {
    splitAddress(self.address); // validate before anything is sent
    clearTimeout(this.tickTimer);
    await this.ticking;
    this.self = self;
    this.load = load;
    this.hidden = undefined;
    await this.register(this.connections());
    this.left = false;
    this.schedule(Date.now());
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

  /**
   * Stops the keep-alive, then deregisters (best effort: if Consul is
   * unreachable the check goes critical within one TTL anyway). This node
   * leaves its own view at once; other views follow within a round trip. The
   * watch keeps running so `alternative` still has somewhere to send clients.
   */
  async leave() {
    if (this.left) return;
    this.left = true;
    clearTimeout(this.tickTimer);
    await this.ticking; // a registration in flight must not land after the deregistration
    this.hidden = this.self!.nodeId;
    await this.consul.agent.service.deregister({ id: this.hidden, timeout: this.callTimeoutMs }).catch(() => {});
  }

  /** Leaves if still joined, aborts the blocking query in flight and ends the watch. */
  async close() {
    await this.leave();
    this.stop.abort();
    this.inflight?.emit('cancel'); // papi aborts the HTTP request listening on this ctx
    await this.watching;
    this.consul.destroy();
  }

  private visible() {
    return this.hidden ? this.view.filter((n) => n.nodeId !== this.hidden) : this.view;
  }

  private connections() {
    try {
      return Math.max(0, Math.round(this.load()));
    } catch {
      return this.registered ?? 0;
    }
  }

  /** Status 'passing' on every (re-)registration: the caller is alive right now. */
  private async register(connections: number) {
    const self = this.self!;
    const { host, port } = splitAddress(self.address);
    const meta: Record<string, string> = { region: self.region, connections: String(connections), capacity: String(self.capacity) };
    if (this.opts.zone) meta.zone = this.opts.zone;
    this.needsRegister = true; // until Consul confirms
    await this.consul.agent.service.register({
      name: this.service,
      id: self.nodeId,
      address: host,
      port,
      meta,
      check: {
        checkid: `service:${self.nodeId}`,
        name: `${this.service} TTL`,
        ttl: goDuration(this.ttlMs),
        status: 'passing',
        deregistercriticalserviceafter: this.opts.deregisterAfter ?? '1m',
      },
      timeout: this.callTimeoutMs,
    });
    this.registered = connections;
    this.needsRegister = false;
  }

  private schedule(from: number) {
    if (this.left) return;
    this.tickTimer = setTimeout(
      () => {
        const start = Date.now();
        this.ticking = this.tick().finally(() => {
          this.ticking = undefined;
          this.schedule(start);
        });
      },
      Math.max(0, from + this.ttlMs / 3 - Date.now()),
    );
    this.tickTimer.unref();
  }

  /**
   * One keep-alive round: re-register when the load in Meta is stale or the
   * agent lost us (pass failed, e.g. after the reaper removed a frozen node),
   * then pass the check. Errors are retried next round, two before expiry.
   */
  private async tick() {
    if (this.left) return;
    const connections = this.connections();
    try {
      if (this.needsRegister || connections !== this.registered) await this.register(connections);
      await this.consul.agent.check.pass({ id: `service:${this.self!.nodeId}`, timeout: this.callTimeoutMs });
    } catch {
      this.needsRegister = true;
    }
  }

  /** The blocking-query loop behind the view; it only ends on `close`. */
  private async watch() {
    let index = 0n;
    let failures = 0;
    while (!this.stop.signal.aborted) {
      const started = Date.now();
      try {
        const ctx: EventEmitter & { includeResponse?: boolean } = Object.assign(new EventEmitter(), { includeResponse: true });
        this.inflight = ctx;
        const blocking = index > 0n ? { index: String(index), wait: goDuration(this.waitMs) } : {};
        // Consul adds up to wait/16 of jitter: the client timeout must outlast it.
        const [res, body] = await this.consul.health.service({ service: this.service, passing: true, ...blocking, ctx, timeout: this.waitMs * 1.1 + 1000 });
        this.view = toView(body);
        index = nextIndex(index, res.headers['x-consul-index']); // throws when missing: back off, never spin
        failures = 0;
        await sleep(Math.max(0, started + MIN_QUERY_GAP_MS - Date.now()), undefined, { signal: this.stop.signal, ref: false });
      } catch {
        if (this.stop.signal.aborted) break;
        failures++;
        index = 0n; // after an outage, re-read at once rather than trust the old index
        const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
        await sleep(backoff, undefined, { signal: this.stop.signal, ref: false }).catch(() => {});
      } finally {
        this.inflight = undefined;
      }
    }
  }
}

/** Consul's rules: an index that goes backwards resets the watch; one below 1 is clamped to 1. */
function nextIndex(prev: bigint, header: string | string[] | undefined): bigint {
  if (typeof header !== 'string' || !/^\d+$/.test(header)) throw new Error('no X-Consul-Index: not a blocking endpoint');
  const next = BigInt(header);
  return next < prev ? 0n : next < 1n ? 1n : next;
}

interface HealthEntry {
  Node?: { Address?: string };
  Service?: { ID?: string; Address?: string; Port?: number; Meta?: Record<string, string> | null };
}

/** Service address falls back to the node's, as Consul documents. */
function toView(body: unknown): ViewNode[] {
  if (!Array.isArray(body)) throw new Error('unexpected health answer');
  return (body as HealthEntry[]).flatMap(({ Node, Service }) => {
    if (!Service?.ID) return [];
    const host = Service.Address || Node?.Address || '';
    const meta = Service.Meta ?? {};
    const address = `${host.includes(':') ? `[${host}]` : host}:${Service.Port ?? 0}`;
    return [{ nodeId: Service.ID, address, region: meta.region ?? '', connections: Number(meta.connections) || 0, capacity: Number(meta.capacity) || 0 }];
  });
}

/** "host:port" or "[v6]:port" into Consul's separate Address and Port. */
function splitAddress(address: string) {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (!m) throw new Error(`advertise address must be host:port, got "${address}"`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

function goDuration(ms: number) {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`;
}
