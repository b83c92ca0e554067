import type pg from 'pg';
import { open, sealedKekId, type KekKeyring } from '../css1.js';
import { allSealedRows } from './store.js';

export interface SealedCheck {
  total: number;
  opened: number;
  failed: number;
  /** Rows per kekId named in their envelope (`malformed` for rows that are not CSS1). */
  by_kek_id: Record<string, number>;
}

/**
 * Opens every sealed row with a holder's keyring and counts the outcome: the
 * "zone secrets decrypt" check of a KEK rotation. Opened values are wiped at once.
 */
export async function checkSealed(pool: pg.Pool, keyring: KekKeyring): Promise<SealedCheck> {
  const check: SealedCheck = { total: 0, opened: 0, failed: 0, by_kek_id: {} };
  for await (const row of allSealedRows(pool)) {
    check.total++;
    let kekId = 'malformed';
    try {
      kekId = sealedKekId(row.sealed);
      open(keyring, row.purpose, row.ref, row.sealed).fill(0);
      check.opened++;
    } catch {
      check.failed++;
    }
    check.by_kek_id[kekId] = (check.by_kek_id[kekId] ?? 0) + 1;
  }
  return check;
}
