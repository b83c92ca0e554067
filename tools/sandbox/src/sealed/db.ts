import pg from 'pg';

/**
 * A small pool for the sealed-secrets table. Connections are opened on first
 * use, so a member whose database is down still starts (and says so on /ready).
 */
export function openSealedPool(databaseUrl: string, onError: (err: Error) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 2000, idleTimeoutMillis: 10_000 });
  // An idle client losing its connection must not crash the process.
  pool.on('error', onError);
  return pool;
}
