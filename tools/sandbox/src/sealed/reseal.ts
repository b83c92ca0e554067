import type pg from 'pg';
import { Css1Error, open, seal, sealedKekId, type KekKeyring } from '../css1.js';
import { ensureSealedTable, readSealed, readSealedPage, swapSealed, type SealedRow } from './store.js';

export interface ResealCounts {
  resealed: number;
  skipped: number;
  failed: number;
}

/** What one committed batch did; refs and error codes only, never values. */
export interface ResealBatch extends ResealCounts {
  batch: number;
  rows: number;
  failures: { ref: string; error: string }[];
}

export interface ResealOptions {
  batchSize?: number;
  /** Sleep between batches, to spare a busy database. */
  pauseMs?: number;
  /** Called after each batch has committed. */
  onBatch?: (batch: ResealBatch) => void;
}

const DEFAULT_BATCH = 100;
// A row that keeps changing under us is left for the next run, not fought over.
const CAS_ATTEMPTS = 3;

/**
 * The re-seal job (Caracal's rotate-secret-store-kek): every row not sealed
 * under the current KEK is opened with the keyring and sealed again under the
 * current KEK, by compare-and-swap so a concurrent write is never overwritten.
 * Each batch is one transaction, so a job killed at any point leaves every
 * row either fully re-sealed or untouched, and a re-run finishes the work.
 */
export async function resealAll(pool: pg.Pool, keyring: KekKeyring, options: ResealOptions = {}): Promise<ResealCounts> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  await ensureSealedTable(pool);
  const total: ResealCounts = { resealed: 0, skipped: 0, failed: 0 };
  let after: string | null = null;
  for (let batch = 1; ; batch++) {
    const page = await readSealedPage(pool, after, batchSize);
    if (page.length === 0) return total;
    const done = await resealBatch(pool, keyring, page, batch);
    total.resealed += done.resealed;
    total.skipped += done.skipped;
    total.failed += done.failed;
    options.onBatch?.(done);
    if (page.length < batchSize) return total;
    after = (page[page.length - 1] as SealedRow).ref;
    if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
  }
}

async function resealBatch(pool: pg.Pool, keyring: KekKeyring, page: SealedRow[], batch: number): Promise<ResealBatch> {
  const done: ResealBatch = { batch, rows: page.length, resealed: 0, skipped: 0, failed: 0, failures: [] };
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const row of page) {
      const outcome = await resealRow(client, keyring, row);
      if (outcome === 'resealed' || outcome === 'skipped') done[outcome]++;
      else {
        done.failed++;
        done.failures.push({ ref: row.ref, error: outcome.error });
      }
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return done;
}

async function resealRow(client: pg.PoolClient, keyring: KekKeyring, first: SealedRow): Promise<'resealed' | 'skipped' | { error: string }> {
  let row: SealedRow | undefined = first;
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    if (!row) return 'skipped'; // deleted meanwhile: nothing left to re-seal
    let resealed: Buffer;
    try {
      if (sealedKekId(row.sealed) === keyring.currentId) return 'skipped';
      const value = open(keyring, row.purpose, row.ref, row.sealed);
      resealed = seal(keyring.current, row.purpose, row.ref, value);
      value.fill(0);
    } catch (err) {
      return { error: err instanceof Css1Error ? err.code : 'open_failed' };
    }
    if (await swapSealed(client, row.ref, row.sealed, resealed)) return 'resealed';
    row = await readSealed(client, row.ref);
  }
  return { error: 'concurrent_updates' };
}
