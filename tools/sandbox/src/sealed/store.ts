import type pg from 'pg';

/**
 * The sandbox's table of sealed zone secrets, standing in for Caracal's
 * sealed columns. Rows hold only CSS1 envelopes; nothing here sees a value.
 */
export const SEALED_TABLE = 'sandbox_sealed_secrets';

export interface SealedRow {
  ref: string;
  purpose: string;
  sealed: Buffer;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${SEALED_TABLE} (
  ref text PRIMARY KEY,
  purpose text NOT NULL,
  sealed bytea NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

// Two processes (API and STS, or the job) may race to create the table:
// IF NOT EXISTS is not atomic in Postgres and the loser sees one of these.
const LOST_CREATE_RACE = new Set(['23505', '42P07']);

const ensured = new WeakMap<pg.Pool, Promise<void>>();

/** Creates the table once per pool; a failed attempt is retried on the next call. */
export function ensureSealedTable(pool: pg.Pool): Promise<void> {
  let done = ensured.get(pool);
  if (!done) {
    done = pool.query(CREATE_TABLE).then(
      () => undefined,
      (err: unknown) => {
        if (LOST_CREATE_RACE.has((err as { code?: string }).code ?? '')) return;
        ensured.delete(pool);
        throw err;
      },
    );
    ensured.set(pool, done);
  }
  return done;
}

export async function putSealed(pool: pg.Pool, row: SealedRow): Promise<void> {
  await ensureSealedTable(pool);
  await pool.query(
    `INSERT INTO ${SEALED_TABLE} (ref, purpose, sealed) VALUES ($1, $2, $3)
     ON CONFLICT (ref) DO UPDATE SET purpose = EXCLUDED.purpose, sealed = EXCLUDED.sealed, updated_at = now()`,
    [row.ref, row.purpose, row.sealed],
  );
}

/** One page of rows after `afterRef` in ref order (keyset paging: stable under concurrent writes). */
export async function readSealedPage(db: pg.Pool | pg.PoolClient, afterRef: string | null, limit: number): Promise<SealedRow[]> {
  const { rows } = await db.query<SealedRow>(
    `SELECT ref, purpose, sealed FROM ${SEALED_TABLE} WHERE $1::text IS NULL OR ref > $1 ORDER BY ref LIMIT $2`,
    [afterRef, limit],
  );
  return rows;
}

/** Every row, page by page, so a large table is never held in memory at once. */
export async function* allSealedRows(pool: pg.Pool, pageSize = 500): AsyncGenerator<SealedRow> {
  await ensureSealedTable(pool);
  let after: string | null = null;
  for (;;) {
    const page = await readSealedPage(pool, after, pageSize);
    yield* page;
    if (page.length < pageSize) return;
    after = (page[page.length - 1] as SealedRow).ref;
  }
}

/** Compare-and-swap: replaces the envelope only if the row still holds `expected`. */
export async function swapSealed(db: pg.Pool | pg.PoolClient, ref: string, expected: Buffer, next: Buffer): Promise<boolean> {
  const result = await db.query(`UPDATE ${SEALED_TABLE} SET sealed = $3, updated_at = now() WHERE ref = $1 AND sealed = $2`, [ref, expected, next]);
  return result.rowCount === 1;
}

export async function readSealed(db: pg.Pool | pg.PoolClient, ref: string): Promise<SealedRow | undefined> {
  const { rows } = await db.query<SealedRow>(`SELECT ref, purpose, sealed FROM ${SEALED_TABLE} WHERE ref = $1`, [ref]);
  return rows[0];
}
