import { Redis, type RedisOptions } from 'ioredis';

/**
 * Every connection of the system is made here, so the protocol choice is in
 * one place: RESP2 replies keep ioredis 6's stream replies in their classic
 * array shapes.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    protocol: 2,
    maxRetriesPerRequest: null,
    enableAutoPipelining: false,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    ...options,
  });
}

/** A connection of its own for blocking reads, so a BLOCK never stalls other commands. */
export function duplicateForBlocking(redis: Redis): Redis {
  return redis.duplicate({ connectionName: 'blocking-reader' });
}

export type { Redis };
