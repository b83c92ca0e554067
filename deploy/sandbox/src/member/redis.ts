import { Redis } from 'ioredis';
import { errorMessage, type Log } from './log.js';

/**
 * Redis connections of a member. Commands fail fast instead of queueing
 * forever, so a Redis outage shows up as an unready member and a denied
 * exchange (fail closed), not as a hung request.
 */
export function connectRedis(url: string, role: string, log: Log, options: { blocking?: boolean } = {}): Redis {
  const redis = new Redis(url, {
    protocol: 2,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // A blocking read legitimately outlives any command timeout.
    ...(options.blocking ? {} : { commandTimeout: 2000 }),
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  });
  let lastLogged = 0;
  redis.on('error', (err: unknown) => {
    // Reconnect attempts repeat the same error; one line every few seconds is enough.
    if (Date.now() - lastLogged < 5000) return;
    lastLogged = Date.now();
    log('warn', 'redis connection error', { connection: role, error: errorMessage(err) });
  });
  return redis;
}

/** Closes a connection without waiting on a server that may be gone. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'wait' || redis.status === 'end') {
    redis.disconnect();
    return;
  }
  const timer = setTimeout(() => redis.disconnect(), 300);
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a MULTI and throws if any command in it failed: ioredis reports
 * per-command errors in the result instead of rejecting, and a silently
 * failed XACK or DLQ write would break at-least-once handling.
 */
export async function execAll(multi: ReturnType<Redis['multi']>): Promise<[error: Error | null, result: unknown][]> {
  const results = await multi.exec();
  if (results === null) throw new Error('transaction aborted');
  for (const [err] of results) if (err) throw err;
  return results;
}
