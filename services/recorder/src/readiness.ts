import type { Readiness } from '@caracal-rotation/observability';
import { pendingMigrations } from '@caracal-rotation/projection';
import type pg from 'pg';

/** Ready when Postgres answers and the schema has every migration this code knows. */
export async function projectionReadiness(pool: pg.Pool): Promise<Readiness> {
  try {
    await pool.query('SELECT 1');
    const pending = await pendingMigrations(pool);
    if (pending.length > 0) return { ok: false, error: `migrations not applied: ${pending.join(', ')}`, dependency: 'postgres' };
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), dependency: 'postgres' };
  }
}
