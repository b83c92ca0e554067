import type pg from 'pg';
import { MIGRATIONS, type Migration } from './migrations/index.js';
import { transaction, type Database } from './transaction.js';

const UNDEFINED_TABLE = '42P01';

// The lock key includes the schema so that databases shared by isolated
// schemas (tests) migrate independently; replicas of one deployment still
// serialize on it.
const LOCK = `SELECT pg_advisory_xact_lock(hashtext('caracal-rotation/migrate/' || coalesce(current_schema(), '')))`;

const CREATE_LEDGER = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
)`;

async function appliedVersions(client: pg.ClientBase): Promise<Set<number>> {
  const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
  return new Set(rows.map((r) => r.version));
}

/**
 * Applies every migration not yet applied, in order, in one transaction under
 * an advisory lock, so replicas starting together neither race nor apply a
 * migration twice. Returns the versions applied by this call.
 */
export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return transaction(db, async (client) => {
    await client.query(LOCK);
    await client.query(CREATE_LEDGER);
    const applied = await appliedVersions(client);
    const now: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      now.push(m.version);
    }
    return now;
  });
}

/** Versions this code knows and the database has not applied yet (readiness). */
export async function pendingMigrations(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  try {
    const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    return migrations.map((m) => m.version).filter((v) => !applied.has(v));
  } catch (err) {
    if ((err as { code?: string }).code === UNDEFINED_TABLE) return migrations.map((m) => m.version);
    throw err;
  }
}
