import type pg from 'pg';

/**
 * Runs several reads as one consistent picture: a read-only, repeatable-read
 * transaction (and Postgres refuses any write in it). A connection whose
 * ROLLBACK failed is destroyed rather than returned to the pool.
 */
export async function readConsistent<T>(pool: pg.Pool, read: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const result = await read(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    broken = await client.query('ROLLBACK').then(
      () => undefined,
      (rollbackErr: unknown) => (rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr))),
    );
    throw err;
  } finally {
    client.release(broken);
  }
}
