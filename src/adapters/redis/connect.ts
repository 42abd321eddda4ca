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

/** Runs a Redis call; connection and timeout failures become UNAVAILABLE. */
export async function guard<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof DomainError) throw e;
    throw unavailable(`${what}: Redis is unavailable (${(e as Error).message?.slice(0, 80)})`);
  }
}
