import cassandra from 'cassandra-driver';
import { DomainError } from '../../domain/errors.js';

/** The consistency levels a deployment may choose (CHAT_CQL_CONSISTENCY). */
export type CqlConsistency = 'ONE' | 'LOCAL_ONE' | 'LOCAL_QUORUM' | 'QUORUM' | 'ALL';

/**
 * How to reach ScyllaDB/Cassandra. `replication` is the CQL map literal used
 * when the keyspace is first created, e.g.
 * `{'class':'NetworkTopologyStrategy','datacenter1':3}`; `requestTimeoutMs` is
 * the client-side bound on one request (the driver's read timeout), after
 * which the request fails with `unavailable` instead of hanging a send.
 */
export interface CqlOptions {
  contactPoints: string[];
  localDataCenter: string;
  keyspace: string;
  replication: string;
  consistency: CqlConsistency;
  requestTimeoutMs: number;
}

/** Per-statement choices. `idempotent` lets the driver retry the statement after a timeout or a broken connection. */
export interface ExecOptions {
  idempotent: boolean;
  /** Rows per page when reading; `all()` follows the pages. */
  fetchSize?: number;
  /**
   * Read at SERIAL (LOCAL_SERIAL) consistency: a linearizable read that
   * completes any in-flight lightweight transaction first. Used to re-read
   * state before retrying a compare-and-set that lost a race.
   */
  serialRead?: boolean;
  /** This statement's client-side bound instead of `requestTimeoutMs` (schema work at start-up). */
  readTimeoutMs?: number;
}

/** One statement of a batch. */
export interface BatchItem {
  query: string;
  params: unknown[];
}

/** A result row, read by column name (driver types: bigint arrives as Long, see `num`). */
export type Row = cassandra.types.Row;
/** A driver result; `wasApplied()` tells whether a lightweight transaction took effect. */
export type ResultSet = cassandra.types.ResultSet;

const { consistencies } = cassandra.types;
const CONSISTENCY: Record<CqlConsistency, number> = {
  ONE: consistencies.one,
  LOCAL_ONE: consistencies.localOne,
  LOCAL_QUORUM: consistencies.localQuorum,
  QUORUM: consistencies.quorum,
  ALL: consistencies.all,
};

/** Keyspace names are interpolated into CQL text, so only plain identifiers pass. */
const KEYSPACE = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;

/**
 * Retries a failed request at most once, and only where that cannot store a
 * write twice: the driver consults `onRequestError` and `onWriteTimeout` only
 * for statements marked idempotent, so lightweight transactions (never marked)
 * surface a timeout to the caller, whose outcome is then unknown; the caller
 * retries at the application level with the same ids (every port method is
 * idempotent by key). Reads are retried on the next host after a timeout.
 */
export class OnceRetryPolicy extends cassandra.policies.retry.RetryPolicy {
  override onReadTimeout(info: cassandra.policies.retry.OperationInfo) {
    return info.nbRetry > 0 ? this.rethrowResult() : this.retryResult(undefined as never, false);
  }
  override onWriteTimeout(info: cassandra.policies.retry.OperationInfo) {
    return info.nbRetry > 0 ? this.rethrowResult() : this.retryResult(undefined as never, true);
  }
  override onUnavailable(info: cassandra.policies.retry.OperationInfo) {
    return info.nbRetry > 0 ? this.rethrowResult() : this.retryResult(undefined as never, false);
  }
  override onRequestError(info: cassandra.policies.retry.OperationInfo) {
    return info.nbRetry > 0 ? this.rethrowResult() : this.retryResult(undefined as never, false);
  }
}

/** Server-side failures that mean "the database could not do it now". */
const OUTAGE_CODES = new Set<number>([
  cassandra.types.responseErrorCodes.unavailableException,
  cassandra.types.responseErrorCodes.overloaded,
  cassandra.types.responseErrorCodes.isBootstrapping,
  cassandra.types.responseErrorCodes.readTimeout,
  cassandra.types.responseErrorCodes.writeTimeout,
  cassandra.types.responseErrorCodes.readFailure,
  cassandra.types.responseErrorCodes.writeFailure,
  cassandra.types.responseErrorCodes.serverError,
]);

/**
 * Maps a driver failure to the port contract: no reachable host, a client or
 * server timeout, an overloaded or unavailable replica set all become
 * DomainError('unavailable'), so a send answers UNAVAILABLE ("not accepted,
 * retry") rather than INTERNAL. A DomainError passes through; anything else
 * (a CQL syntax or schema error) is a bug and is rethrown as is.
 */
export function toDomainError(e: unknown): unknown {
  if (e instanceof DomainError) return e;
  const message = outageMessage(e);
  if (!message) return e;
  // The message goes to clients as is; the driver's own error stays on `cause` for logs.
  return Object.defineProperty(new DomainError('unavailable', message), 'cause', { value: e, enumerable: false });
}

function outageMessage(e: unknown): string | undefined {
  const { errors } = cassandra;
  if (e instanceof errors.NoHostAvailableError) return 'the message database is unreachable; retry later';
  if (e instanceof errors.OperationTimedOutError) return 'the message database did not answer in time; retry later';
  if (e instanceof errors.BusyConnectionError) return 'the message database is overloaded; retry later';
  // The connection closed under a request (the node stopped or restarted): the driver does not retry a
  // statement that is not idempotent, and its outcome is unknown, as after a timeout.
  if (e instanceof errors.DriverError && (e as { isSocketError?: boolean }).isSocketError)
    return 'the connection to the message database was lost; retry later';
  if (e instanceof errors.ResponseError && OUTAGE_CODES.has(e.code)) return 'the message database could not complete the request; retry later';
  if (e instanceof Error && /is shutdown|has been shut ?down/i.test(e.message)) return 'the message database connection is closed';
  return undefined;
}

/**
 * One connected `cassandra.Client` shared by every CQL adapter of a node.
 * Every statement is prepared (`prepare: true`, cached by the driver per
 * query text and re-prepared on reconnect) and runs at the configured
 * consistency; lightweight transactions use SERIAL, or LOCAL_SERIAL when the
 * configured level is a LOCAL_* one, so they never leave the local DC unless
 * asked to. Errors leave through `toDomainError`.
 */
export class CqlSession {
  readonly keyspace: string;
  readonly serialLocal: boolean;
  private readonly consistency: number;
  private readonly serialConsistency: number;

  private constructor(
    readonly client: cassandra.Client,
    readonly options: CqlOptions,
  ) {
    this.keyspace = options.keyspace;
    this.consistency = CONSISTENCY[options.consistency];
    this.serialLocal = options.consistency.startsWith('LOCAL_');
    this.serialConsistency = this.serialLocal ? consistencies.localSerial : consistencies.serial;
  }

  /**
   * Connects without a keyspace (the migration may have to create it) and
   * fails fast with `unavailable` when no contact point answers.
   */
  static async connect(options: CqlOptions): Promise<CqlSession> {
    if (!KEYSPACE.test(options.keyspace)) throw new Error(`invalid CQL keyspace name "${options.keyspace}"`);
    if (!(options.consistency in CONSISTENCY)) throw new Error(`invalid CQL consistency "${options.consistency}"`);
    const timeout = Math.max(100, options.requestTimeoutMs);
    const client = new cassandra.Client({
      contactPoints: options.contactPoints,
      localDataCenter: options.localDataCenter,
      socketOptions: {
        connectTimeout: Math.min(5000, timeout),
        // Client-side bound per request: a dead node must not stall a send.
        readTimeout: timeout,
        keepAlive: true,
        tcpNoDelay: true,
      },
      policies: {
        retry: new OnceRetryPolicy(),
        reconnection: new cassandra.policies.reconnection.ExponentialReconnectionPolicy(500, 30_000, false),
      },
      queryOptions: { prepare: true, isIdempotent: false },
      protocolOptions: { maxSchemaAgreementWaitSeconds: 20 },
    });
    try {
      await client.connect();
    } catch (e) {
      await client.shutdown().catch(() => {});
      throw toDomainError(e);
    }
    return new CqlSession(client, options);
  }

  /** `keyspace.name`, for statement text. */
  table(name: string): string {
    return `${this.keyspace}.${name}`;
  }

  /** Runs one prepared statement at the configured consistency. */
  async execute(query: string, params: unknown[], opts: ExecOptions, pageState?: string): Promise<ResultSet> {
    try {
      return await this.client.execute(query, params, { ...this.queryOptions(opts), ...(pageState ? { pageState } : {}) });
    } catch (e) {
      throw toDomainError(e);
    }
  }

  /** Every row of a read, following the driver's pages. */
  async all(query: string, params: unknown[], opts: ExecOptions): Promise<Row[]> {
    const out: Row[] = [];
    let pageState: string | undefined;
    do {
      const rs = await this.execute(query, params, opts, pageState);
      out.push(...rs.rows);
      pageState = rs.pageState ?? undefined;
    } while (pageState);
    return out;
  }

  /**
   * A batch. Conditional batches (one partition, with IF) are how the
   * adapters change several rows of one partition atomically and in isolation;
   * unlogged batches group writes to one partition into a single request.
   */
  async batch(items: BatchItem[], opts: ExecOptions & { logged: boolean }): Promise<ResultSet> {
    try {
      return await this.client.batch(items, { ...this.queryOptions(opts), logged: opts.logged });
    } catch (e) {
      throw toDomainError(e);
    }
  }

  /**
   * Closes every connection; later calls fail with `unavailable`. (After a
   * network cut, cassandra-driver 4.10 may keep a reconnection timer alive
   * past shutdown; a node process exits anyway, tests use --test-force-exit.)
   */
  async close(): Promise<void> {
    await this.client.shutdown();
  }

  private queryOptions(opts: ExecOptions): cassandra.QueryOptions {
    return {
      prepare: true,
      consistency: opts.serialRead ? this.serialConsistency : this.consistency,
      serialConsistency: this.serialConsistency,
      isIdempotent: opts.idempotent,
      ...(opts.fetchSize ? { fetchSize: opts.fetchSize } : {}),
      ...(opts.readTimeoutMs ? { readTimeout: opts.readTimeoutMs } : {}),
    };
  }
}

/** A bigint/int column as a JS number (ids and times stay below 2^53). */
export function num(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return (v as { toNumber(): number }).toNumber();
}
