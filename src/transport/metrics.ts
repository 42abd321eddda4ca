import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { newEphemeralCounts } from '../core/deps.js';

/**
 * A counter for per-frame events: `inc()` adds to a plain number and the
 * prom-client counter catches up when scraped, so the hot path does no label
 * hashing or object work.
 */
export class FastCounter {
  private pending = 0;
  constructor(target: { inc(n: number): void }, register: (flush: () => void) => void) {
    register(() => {
      if (this.pending) target.inc(this.pending);
      this.pending = 0;
    });
  }
  inc() {
    this.pending++;
  }
}

/**
 * A label-less histogram for per-frame observations: `observe()` is a bucket
 * search over a small array; the exposition is built when scraped.
 */
export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: number[],
  ) {
    this.counts = new Float64Array(buckets.length);
  }

  observe(v: number) {
    this.sum += v;
    this.count++;
    const b = this.buckets;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }

  /** The shape prom-client's registry renders (the same series a prom-client Histogram has). */
  get() {
    const metricName = `${this.name}_bucket`;
    let below = 0;
    const values = this.buckets.map((le, i) => ({ labels: { le }, value: (below += this.counts[i]!), metricName }));
    values.push({ labels: { le: '+Inf' as unknown as number }, value: this.count, metricName });
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [...values, { labels: {}, value: this.sum, metricName: `${this.name}_sum` }, { labels: {}, value: this.count, metricName: `${this.name}_count` }],
    });
  }

  reset() {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * Prometheus metrics of one node. Names follow the go-grpc-prometheus
 * convention (`grpc_server_*`) so existing dashboards work; chat-specific
 * series are prefixed `chat_`.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly started = new Counter({
    name: 'grpc_server_started_total',
    help: 'RPCs started on the server.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
    registers: [this.registry],
  });
  readonly handled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'RPCs completed on the server, by status code.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
    registers: [this.registry],
  });
  readonly handling = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Time to complete unary RPCs.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly msgReceived = new Counter({
    name: 'grpc_server_msg_received_total',
    help: 'Stream messages received from clients.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
    registers: [this.registry],
  });
  readonly msgSent = new Counter({
    name: 'grpc_server_msg_sent_total',
    help: 'Stream messages sent to clients.',
    labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
    registers: [this.registry],
  });
  /** Process-wide count of unhandled promise rejections (see app/processGuard.ts), read at scrape time. */
  readonly unhandledRejections = new Counter({
    name: 'chat_unhandled_rejections_total',
    help: 'Promise rejections nobody handled (bugs); the node logged and survived each.',
    registers: [this.registry],
  });
  readonly streams = new Gauge({
    name: 'chat_connected_streams',
    help: 'Server streams (Connect, Subscribe, WatchPresence) open on this node.',
    registers: [this.registry],
  });
  /**
   * Running totals the hot paths bump as plain numbers: the use cases
   * (`ephemeral*`, through ChatCore's `counts`) and the server streams. Read
   * at scrape time; tests and the benchmark read them here or scrape them.
   */
  readonly counts = { ...newEphemeralCounts(), framesEncoded: 0, outboxHighWater: 0, slowConsumerCutoffs: 0 };
  readonly ephemeralDropped = new Counter({
    name: 'chat_ephemeral_dropped_total',
    help: 'Typing, receipt and presence frames not delivered: over the sender rate (limited), replaced by a newer state (coalesced), reader behind (dropped).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  /** Flushes of the per-frame counters, run before every scrape. */
  private readonly flushes: Array<() => void> = [];
  private readonly register = (f: () => void) => this.flushes.push(f);
  readonly accepted = this.fast(
    new Counter({ name: 'chat_messages_accepted_total', help: 'Messages stored and acknowledged to their sender.', registers: [this.registry] }),
  );
  readonly delivered = this.fast(
    new Counter({ name: 'chat_messages_delivered_total', help: 'Message frames written to device streams.', registers: [this.registry] }),
  );
  readonly latency = new FastHistogram(
    'chat_delivery_latency_seconds',
    'From acceptance (sent_at) to the write on a receiving stream, live messages only.',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  );
  readonly fanout = new Histogram({
    name: 'chat_fanout_size',
    help: 'Local streams one published message was written to.',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 1000],
    registers: [this.registry],
  });
  readonly queueDrops = new Counter({
    name: 'chat_queue_drops_total',
    help: 'Streams cut off because their bounded outbound queue overflowed (slow consumers).',
    registers: [this.registry],
  });
  readonly framesEncoded = new Counter({
    name: 'chat_frames_encoded_total',
    help: 'Server frames serialized (fan-out encodes a frame once for every stream that writes it).',
    registers: [this.registry],
  });
  readonly outboxHighWater = new Gauge({
    name: 'chat_outbox_high_water',
    help: 'The most frames ever queued in one stream (bounded by CHAT_OUTBOUND_QUEUE_LIMIT).',
    registers: [this.registry],
  });

  private readonly sentChildren = new Map<string, FastCounter>();
  private readonly receivedChildren = new Map<string, FastCounter>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.registry.registerMetric(this.latency as unknown as Metric);
    const c = this.counts;
    this.followTotal(this.framesEncoded, () => c.framesEncoded);
    this.followTotal(this.queueDrops, () => c.slowConsumerCutoffs);
    this.register(() => this.outboxHighWater.set(c.outboxHighWater));
    this.followTotal(this.ephemeralDropped.labels({ reason: 'limited' }), () => c.ephemeralLimited);
    this.followTotal(this.ephemeralDropped.labels({ reason: 'coalesced' }), () => c.ephemeralCoalesced);
    this.followTotal(this.ephemeralDropped.labels({ reason: 'dropped' }), () => c.ephemeralDropped);
  }

  /** Text exposition of every metric, per-frame counters included. */
  metrics(): Promise<string> {
    for (const f of this.flushes) f();
    return this.registry.metrics();
  }

  /** Keeps `counter` equal to a running total read from elsewhere (`read()`), updated at scrape time. */
  followTotal(counter: { inc(n: number): void }, read: () => number) {
    let seen = 0;
    this.register(() => {
      const n = read();
      if (n > seen) counter.inc(n - seen);
      seen = n;
    });
  }

  private fast(c: { inc(n: number): void }) {
    return new FastCounter(c, this.register);
  }

  /** Per-frame counters, bound to their labels once. */
  sentCounter(path: string, type: 'server_stream' | 'bidi_stream') {
    return this.child(this.sentChildren, this.msgSent, path, type);
  }

  receivedCounter(path: string, type: 'server_stream' | 'bidi_stream') {
    return this.child(this.receivedChildren, this.msgReceived, path, type);
  }

  private child(cache: Map<string, FastCounter>, counter: Counter<string>, path: string, type: 'server_stream' | 'bidi_stream') {
    const key = `${type} ${path}`;
    let c = cache.get(key);
    if (!c) cache.set(key, (c = this.fast(counter.labels(methodLabels(path, type)))));
    return c;
  }

  /** Serves GET /metrics on its own port (0 = any free port). */
  async serve(host: string, port: number): Promise<{ server: Server; port: number }> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.metrics().then(
        (body) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((r) => server.listen(port, host, r));
    return { server, port: (server.address() as { port: number }).port };
  }
}

type MethodLabels = Readonly<{ grpc_type: string; grpc_service: string; grpc_method: string }>;
/** Per method and call type: one labels object, shared (held by every open stream; only registered methods reach a handler, so it stays small). */
const labelsByMethod = new Map<string, MethodLabels>();

/** "/chat.v1.ChatService/SendMessage" -> labels (the same object for every call of the method; never mutate it). */
export function methodLabels(path: string, type: 'unary' | 'server_stream' | 'bidi_stream'): MethodLabels {
  const key = `${type} ${path}`;
  let labels = labelsByMethod.get(key);
  if (!labels) {
    const [, service = '', method = ''] = path.split('/');
    labelsByMethod.set(key, (labels = { grpc_type: type, grpc_service: service, grpc_method: method }));
  }
  return labels;
}
