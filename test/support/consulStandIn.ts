/**
 * A STAND-IN FOR CONSUL, not Consul: no Consul server can be installed or run
 * on this machine, so the tests talk to this small node:http server instead.
 * It implements only the part of Consul's HTTP API that ConsulRegistry uses,
 * with Consul's documented semantics for that part:
 *
 * - PUT /v1/agent/service/register (Name, ID, Address, Port, Tags, Meta,
 *   Check{TTL, DeregisterCriticalServiceAfter, CheckID?, Name?, Status?}).
 *   Meta values must be strings (Consul's map[string]string). A TTL check
 *   starts critical unless Status says otherwise; re-registering keeps the
 *   current status when no Status is given.
 * - PUT /v1/agent/service/deregister/:id, PUT /v1/agent/check/pass/:id
 *   (?note), PUT /v1/agent/check/update/:id ({Status, Output}); an unknown
 *   id answers 404.
 * - GET /v1/health/service/:name (?passing, ?index, ?wait): blocking queries
 *   are held until the service's index moves past `index` or `wait` (+ up to
 *   wait/16 of jitter, default 5m, max 10m) elapses; every answer carries
 *   X-Consul-Index. Only changes visible in the answer move the index: a pass
 *   on an already passing check does not.
 * - A TTL that runs out turns the check critical (index moves, blocked
 *   queries wake). A check critical longer than DeregisterCriticalServiceAfter
 *   is reaped by a sweep every `reapIntervalMs`; like Consul, that timeout is
 *   floored at `minDeregisterMs` (Consul: 1m, sweep 30s; tests pass smaller).
 * - Durations are Go durations ("10s", "500ms", "1m30s", "0.5s").
 *
 * Test controls: `down` ('reset' destroys every socket, 'error' answers 500
 * "No cluster leader"), `freeze(id)` drops a node's passes and
 * registrations as if that node had stopped, `log` records every request
 * that reached the API, and `resets` counts connections refused while down.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface StandInCheck {
  CheckID: string;
  Name: string;
  Status: 'passing' | 'warning' | 'critical';
  Output: string;
  TTL: string;
  DeregisterCriticalServiceAfter?: string;
}

export interface StandInService {
  ID: string;
  Service: string;
  Address: string;
  Port: number;
  Tags: string[];
  Meta: Record<string, string>;
  Check?: StandInCheck;
}

export interface LoggedRequest {
  at: number;
  method: string;
  path: string;
  query: URLSearchParams;
}

interface Entry {
  svc: StandInService;
  ttlMs: number;
  reapAfterMs?: number;
  expiry?: NodeJS.Timeout;
  criticalSince?: number;
}

interface Waiter {
  name: string;
  index: number;
  wake: () => void;
}

const NODE = { ID: '00000000-0000-0000-0000-000000000001', Node: 'stand-in', Address: '127.0.0.1', Datacenter: 'dc1', Meta: {} };

export class ConsulStandIn {
  readonly log: LoggedRequest[] = [];
  down: false | 'reset' | 'error' = false;
  /** Connections destroyed on arrival while `down` is 'reset' (they never reach `log`). */
  resets = 0;
  port = 0;
  private readonly entries = new Map<string, Entry>();
  private readonly serviceIndex = new Map<string, number>();
  private raftIndex = 10;
  private readonly waiters = new Set<Waiter>();
  private readonly frozen = new Set<string>();
  private readonly sockets = new Set<Socket>();
  private readonly server = http.createServer((req, res) => void this.handle(req, res).catch(() => res.destroy())); // e.g. a body cut off by a reset
  private reaper?: NodeJS.Timeout;

  constructor(private readonly opts: { minDeregisterMs?: number; reapIntervalMs?: number } = {}) {
    this.server.on('connection', (s: Socket) => {
      if (this.down === 'reset') {
        this.resets++;
        s.destroy();
        return;
      }
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    this.reaper = setInterval(() => this.reap(), this.opts.reapIntervalMs ?? 30_000);
    this.reaper.unref();
    return this;
  }

  /** Makes the agent unreachable ('reset') or failing ('error'); held queries end at once. */
  setDown(mode: false | 'reset' | 'error') {
    this.down = mode;
    if (mode === 'reset') for (const s of this.sockets) s.destroy();
    if (mode === 'error') for (const w of [...this.waiters]) w.wake();
  }

  /** Drops passes and registrations for this service id, as if its node froze. */
  freeze(id: string) {
    this.frozen.add(id);
  }

  thaw(id: string) {
    this.frozen.delete(id);
  }

  /** The registered service, as Consul holds it (undefined once deregistered or reaped). */
  service(id: string): StandInService | undefined {
    const e = this.entries.get(id);
    return e && structuredClone(e.svc);
  }

  /** Blocking queries being held right now. */
  get held() {
    return this.waiters.size;
  }

  requests(filter: (r: LoggedRequest) => boolean = () => true) {
    return this.log.filter(filter);
  }

  async close() {
    clearInterval(this.reaper);
    for (const e of this.entries.values()) clearTimeout(e.expiry);
    for (const w of [...this.waiters]) w.wake();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    this.log.push({ at: Date.now(), method, path: url.pathname, query: url.searchParams });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (this.down === 'error') return reply(res, 500, 'rpc error making call: No cluster leader');
    const route = (re: RegExp, m: string) => {
      const hit = re.exec(url.pathname);
      if (hit && method !== m) throw new HttpError(405, `method ${method} not allowed`);
      return hit ? decodeURIComponent(hit[1] ?? '') : undefined;
    };
    try {
      let arg: string | undefined;
      if (route(/^\/v1\/agent\/service\/register$/, 'PUT') !== undefined) return reply(res, 200, this.register(parseJson(chunks)));
      if ((arg = route(/^\/v1\/agent\/service\/deregister\/(.+)$/, 'PUT')) !== undefined) return reply(res, 200, this.deregister(arg));
      if ((arg = route(/^\/v1\/agent\/check\/pass\/(.+)$/, 'PUT')) !== undefined)
        return reply(res, 200, this.setStatus(arg, 'passing', url.searchParams.get('note') ?? ''));
      if ((arg = route(/^\/v1\/agent\/check\/update\/(.+)$/, 'PUT')) !== undefined) {
        const b = parseJson(chunks) as { Status?: string; Output?: string };
        if (!['passing', 'warning', 'critical'].includes(b.Status ?? '')) throw new HttpError(400, `Invalid check status: "${b.Status}"`);
        return reply(res, 200, this.setStatus(arg, b.Status as StandInCheck['Status'], b.Output ?? ''));
      }
      if ((arg = route(/^\/v1\/health\/service\/(.+)$/, 'GET')) !== undefined) return await this.health(arg, url.searchParams, req, res);
      throw new HttpError(404, `no such endpoint: ${url.pathname}`);
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, (e as Error).message);
      reply(res, err.status, err.message);
    }
  }

  private register(body: unknown) {
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof b.Name !== 'string' || !b.Name) throw new HttpError(400, 'Missing service name');
    const id = typeof b.ID === 'string' && b.ID ? b.ID : b.Name;
    if (this.frozen.has(id)) return '';
    const meta = (b.Meta ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(meta)) {
      if (!/^[A-Za-z0-9_-]{1,128}$/.test(k)) throw new HttpError(400, `Invalid Service Meta: Key "${k}" invalid`);
      if (typeof v !== 'string') throw new HttpError(400, 'Request decode failed: json: cannot unmarshal into map[string]string');
    }
    if (b.Port !== undefined && !Number.isInteger(b.Port)) throw new HttpError(400, 'Request decode failed: Port must be an integer');
    const prev = this.entries.get(id);
    const svc: StandInService = {
      ID: id,
      Service: b.Name,
      Address: typeof b.Address === 'string' ? b.Address : '',
      Port: (b.Port as number) ?? 0,
      Tags: Array.isArray(b.Tags) ? (b.Tags as string[]) : [],
      Meta: meta as Record<string, string>,
    };
    const entry: Entry = { svc, ttlMs: 0 };
    const c = b.Check as Record<string, unknown> | undefined;
    if (c) {
      if (typeof c.TTL !== 'string') throw new HttpError(400, 'Invalid check: only TTL checks are implemented by this stand-in');
      const ttlMs = goDuration(c.TTL);
      if (!(ttlMs > 0)) throw new HttpError(400, `Invalid check: TTL must be > 0`);
      const status = (c.Status as StandInCheck['Status'] | undefined) ?? prev?.svc.Check?.Status ?? 'critical';
      svc.Check = {
        CheckID: typeof c.CheckID === 'string' && c.CheckID ? c.CheckID : `service:${id}`,
        Name: typeof c.Name === 'string' && c.Name ? c.Name : `Service '${b.Name}' check`,
        Status: status,
        Output: status === prev?.svc.Check?.Status ? prev.svc.Check.Output : '',
        TTL: c.TTL,
      };
      if (typeof c.DeregisterCriticalServiceAfter === 'string') {
        svc.Check.DeregisterCriticalServiceAfter = c.DeregisterCriticalServiceAfter;
        entry.reapAfterMs = Math.max(this.opts.minDeregisterMs ?? 60_000, goDuration(c.DeregisterCriticalServiceAfter));
      }
      entry.ttlMs = ttlMs;
      entry.criticalSince = status === 'critical' ? (prev?.criticalSince ?? Date.now()) : undefined;
    }
    if (prev) clearTimeout(prev.expiry);
    this.entries.set(id, entry);
    this.armTtl(entry);
    if (!prev || prev.svc.Service !== svc.Service || JSON.stringify(prev.svc) !== JSON.stringify(svc)) {
      if (prev && prev.svc.Service !== svc.Service) this.bump(prev.svc.Service);
      this.bump(svc.Service);
    }
    return '';
  }

  private deregister(id: string) {
    const e = this.entries.get(id);
    if (!e) throw new HttpError(404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
    clearTimeout(e.expiry);
    this.entries.delete(id);
    this.bump(e.svc.Service);
    return '';
  }

  private setStatus(checkId: string, status: StandInCheck['Status'], output: string) {
    const e = [...this.entries.values()].find((x) => x.svc.Check?.CheckID === checkId);
    if (!e) throw new HttpError(404, `Unknown check ID "${checkId}". Ensure that the check ID is passed, not the check name.`);
    if (this.frozen.has(e.svc.ID)) return '';
    this.setCheck(e, status, output);
    this.armTtl(e);
    return '';
  }

  private setCheck(e: Entry, status: StandInCheck['Status'], output: string) {
    const check = e.svc.Check!;
    if (check.Status === status && check.Output === output) return;
    if (status === 'critical' && check.Status !== 'critical') e.criticalSince = Date.now();
    if (status !== 'critical') e.criticalSince = undefined;
    check.Status = status;
    check.Output = output;
    this.bump(e.svc.Service);
  }

  /** A TTL check must hear from its node within TTL of the last update, or it turns critical. */
  private armTtl(e: Entry) {
    clearTimeout(e.expiry);
    if (!e.svc.Check || !(e.ttlMs > 0)) return;
    e.expiry = setTimeout(() => {
      if (this.entries.get(e.svc.ID) === e) this.setCheck(e, 'critical', `TTL expired (last update more than ${e.svc.Check!.TTL} ago)`);
    }, e.ttlMs);
    e.expiry.unref();
  }

  private reap() {
    const now = Date.now();
    for (const e of [...this.entries.values()]) {
      if (e.criticalSince !== undefined && e.reapAfterMs !== undefined && now - e.criticalSince >= e.reapAfterMs) this.deregister(e.svc.ID);
    }
  }

  private bump(name: string) {
    this.serviceIndex.set(name, ++this.raftIndex);
    for (const w of [...this.waiters]) if (w.name === name && this.indexOf(name) > w.index) w.wake();
  }

  private indexOf(name: string) {
    return this.serviceIndex.get(name) ?? 1;
  }

  private async health(name: string, q: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse) {
    const min = Number(q.get('index') ?? 0);
    if (!Number.isFinite(min) || min < 0) throw new HttpError(400, 'Invalid index');
    if (min > 0 && this.indexOf(name) <= min) {
      const wait = Math.min(600_000, q.has('wait') ? goDuration(q.get('wait')!) : 300_000);
      if (Number.isNaN(wait)) throw new HttpError(400, 'Invalid wait time');
      await new Promise<void>((resolve) => {
        const w: Waiter = {
          name,
          index: min,
          wake: () => {
            clearTimeout(t);
            this.waiters.delete(w);
            resolve();
          },
        };
        const t = setTimeout(w.wake, wait + Math.random() * (wait / 16));
        this.waiters.add(w);
        res.once('close', w.wake); // the client gave up (or its socket was destroyed)
      });
      if (res.destroyed || req.socket.destroyed) return;
      if (this.down === 'error') return reply(res, 500, 'rpc error making call: No cluster leader');
    }
    const passing = q.has('passing') && q.get('passing') !== 'false' && q.get('passing') !== '0';
    const body = [...this.entries.values()]
      .filter((e) => e.svc.Service === name && (!passing || !e.svc.Check || e.svc.Check.Status === 'passing'))
      .map((e) => ({
        Node: NODE,
        Service: { ID: e.svc.ID, Service: e.svc.Service, Tags: e.svc.Tags, Address: e.svc.Address, Port: e.svc.Port, Meta: e.svc.Meta },
        Checks: [
          {
            Node: NODE.Node,
            CheckID: 'serfHealth',
            Name: 'Serf Health Status',
            Status: 'passing',
            Output: 'Agent alive and reachable',
            ServiceID: '',
            ServiceName: '',
            Type: '',
          },
          ...(e.svc.Check
            ? [
                {
                  Node: NODE.Node,
                  CheckID: e.svc.Check.CheckID,
                  Name: e.svc.Check.Name,
                  Status: e.svc.Check.Status,
                  Output: e.svc.Check.Output,
                  ServiceID: e.svc.ID,
                  ServiceName: name,
                  Type: 'ttl',
                },
              ]
            : []),
        ],
      }));
    res.setHeader('X-Consul-Index', String(this.indexOf(name)));
    res.setHeader('X-Consul-KnownLeader', 'true');
    res.setHeader('X-Consul-LastContact', '0');
    reply(res, 200, body);
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function reply(res: http.ServerResponse, status: number, body: unknown) {
  if (res.destroyed) return;
  const json = typeof body !== 'string';
  res.writeHead(status, { 'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8' });
  res.end(json ? JSON.stringify(body) : body);
}

function parseJson(chunks: Buffer[]): unknown {
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    throw new HttpError(400, 'Request decode failed: invalid JSON');
  }
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds (NaN when malformed): "1m30s", "500ms", "0.5s". */
export function goDuration(text: string): number {
  if (text === '0') return 0;
  if (!/^(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.test(text)) return NaN;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * UNIT_MS[unit!]!;
  return ms;
}
