import { Redis } from 'ioredis';
import { DomainError, unavailable } from '../../domain/errors.js';

/**
 * Opens an ioredis connection tuned for a request path: auto-pipelining
 * batches the commands of one event-loop tick into one write; no offline
 * queue and one retry per command, so that while Redis is down calls fail
 * fast (the send answers UNAVAILABLE) instead of piling up in memory.
 */
export async function connectRedis(url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    commandTimeout: 3000,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  });
  redis.on('error', () => {}); // surfaced per command; reconnects on its own
  await redis.connect();
  return redis;
}

/** A Lua script bound to one connection: call it with its keys, then its arguments. */
export type LuaCommand = (...keysThenArgs: Array<string | number>) => Promise<unknown>;

/**
 * Registers a Lua script as a command of `redis` (ioredis `defineCommand`) and
 * returns a caller for it. Calls go out as EVALSHA: the script text travels
 * once per connection (ioredis sends EVAL the first time on each socket, and
 * again after NOSCRIPT, e.g. when a restarted Redis lost its script cache), so
 * the hot path sends a 40-byte digest instead of the script and Redis does
 * not hash the text on every call. Works with auto-pipelining (a script call
 * joins the tick's pipeline like any command). `name` must be unique per
 * script on a connection: redefining a name replaces the script.
 */
export function luaCommand(redis: Redis, name: string, numberOfKeys: number, lua: string): LuaCommand {
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
