import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { DomainError, unavailable } from '../../domain/errors.js';

/** A single Redis or a Redis Cluster: the adapters use only commands both serve (single-slot keys and scripts). */
export type RedisClient = Redis | Cluster;

/**
 * Connection options for a request path: auto-pipelining batches the
 * commands of one event-loop tick into one write; no offline queue and one
 * retry per command, so that while Redis is down calls fail fast (the send
 * answers UNAVAILABLE) instead of piling up in memory.
 */
function requestOptions(name: string): RedisOptions {
  return {
    connectionName: name,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    commandTimeout: 3000,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
}

/** Opens a connection to one Redis (`redis://host:port`). */
export async function connectRedis(url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, requestOptions(name));
  redis.on('error', () => {}); // surfaced per command; reconnects on its own
  await redis.connect();
  return redis;
}

/** `redis://a:7001,redis://b:7002` (or bare host:port) as ioredis cluster seeds. */
export function clusterSeeds(urls: string): Array<{ host: string; port: number }> {
  return urls
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const u = new URL(/^rediss?:\/\//.test(s) ? s : `redis://${s}`);
      return { host: u.hostname, port: Number(u.port || 6379) };
    });
}

/**
 * Opens a Redis Cluster client from comma-separated seeds. Commands go
 * straight to the master of their key's slot (ioredis keeps the slot map,
 * follows MOVED/ASK, and refreshes the map every second so a promoted
 * replica is found quickly). While a shard has no master (the seconds of a
 * failover) its commands fail after their retry instead of queueing, so
 * sends answer UNAVAILABLE. `sharded` adds one SSUBSCRIBE connection per
 * master, for sharded pub/sub (see RedisFanout).
 */
export async function connectCluster(urls: string, name: string, sharded = false): Promise<Cluster> {
  const { retryStrategy: _r, enableOfflineQueue: _q, ...perNode } = requestOptions(name);
  const cluster = new Cluster(clusterSeeds(urls), {
    redisOptions: perNode,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    lazyConnect: true,
    maxRedirections: 4,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 1000,
    slotsRefreshInterval: 1000,
    shardedSubscribers: sharded,
    clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
  });
  cluster.on('error', () => {}); // surfaced per command
  cluster.on('nodeError', () => {});
  await cluster.connect();
  return cluster;
}

/** One Redis or a cluster, by mode; `sharded` is for the fan-out's subscriber client. */
export function connectAny(mode: 'single' | 'cluster', url: string, name: string, sharded = false): Promise<RedisClient> {
  return mode === 'cluster' ? connectCluster(url, name, sharded) : connectRedis(url, name);
}

/** A Lua script bound to one connection: call it with its keys, then its arguments. */
export type LuaCommand = (...keysThenArgs: Array<string | number>) => Promise<unknown>;

/**
 * Registers a Lua script as a command of `redis` (ioredis `defineCommand`) and
 * returns a caller for it. Calls go out as EVALSHA: the script text travels
 * once per connection (ioredis sends EVAL the first time on each socket, and
 * again after NOSCRIPT, e.g. when a restarted Redis or a promoted replica lost
 * its script cache), so the hot path sends a 40-byte digest instead of the
 * script and Redis does not hash the text on every call. Works with
 * auto-pipelining and on a cluster (the call goes to the slot of its first
 * key; every script here keeps its keys in one slot with a hash tag). `name`
 * must be unique per script on a connection: redefining a name replaces it.
 */
export function luaCommand(redis: RedisClient, name: string, numberOfKeys: number, lua: string): LuaCommand {
  redis.defineCommand(name, { numberOfKeys, lua });
  const commands = redis as unknown as Record<string, LuaCommand>;
  return (...keysThenArgs) => commands[name]!.apply(redis, keysThenArgs);
}

/** Runs a Redis call; connection and timeout failures become UNAVAILABLE. */
export async function guard<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof DomainError) throw e;
    throw unavailable(`${what}: Redis is unavailable (${(e as Error).message?.slice(0, 80)})`);
  }
}
