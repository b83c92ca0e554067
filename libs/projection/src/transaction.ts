import type pg from 'pg';

/** A pool, or one connection the caller already holds. */
export type Database = pg.Pool | pg.ClientBase;

/**
 * Told apart by shape, not `instanceof`: with two copies of pg in a tree, a
 * pool mistaken for one connection would run each statement of a
 * "transaction" on a different connection.
 */
const isPool = (db: Database): db is pg.Pool => 'totalCount' in db && 'idleCount' in db;

/** Thrown when ROLLBACK itself failed: the connection must not be reused. */
class BrokenConnectionError extends Error {
  constructor(readonly rollbackError: unknown) {
    super(rollbackError instanceof Error ? rollbackError.message : String(rollbackError));
  }
}

async function inTransaction<T>(client: pg.ClientBase, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      throw new BrokenConnectionError(rollbackErr);
    }
    throw err;
  }
}

/**
 * Runs `work` in one transaction: COMMIT when it resolves, ROLLBACK when it
 * throws. Given a pool it borrows a connection, and discards it instead of
 * returning it when even the ROLLBACK failed.
 */
export async function transaction<T>(db: Database, work: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  if (!isPool(db)) return inTransaction(db, work);
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    return await inTransaction(client, work);
  } catch (err) {
    if (err instanceof BrokenConnectionError) {
      broken = err;
      throw err.rollbackError;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}
