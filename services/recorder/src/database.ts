import type { Logger } from '@caracal-rotation/observability';
import pg from 'pg';

/** The projection's connection pool. */
export function createPool(url: string, max: number, logger: Pick<Logger, 'warn'>): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5_000, application_name: 'caracal-rotation-recorder' });
  // A server restart fails idle connections with an 'error' event on the pool;
  // unhandled, it would crash the process instead of reconnecting on next use.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle postgres connection failed'));
  // A connection that fails while checked out (e.g. idle in a transaction while the retirement
  // gate waits on Redis) emits 'error' on the client, which the pool stops listening to on
  // checkout; unhandled, that crashes the recorder. Its query fails anyway, and callers retry.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
