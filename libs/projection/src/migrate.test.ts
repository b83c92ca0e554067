import { describe, expect, it } from 'vitest';
import { migrate, pendingMigrations } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';
import { useTestDatabase } from '../testing/database.js';

const db = useTestDatabase('proj_migrate', { migrated: false });

describe('migrate', () => {
  it('reports every migration pending on an empty schema', async () => {
    expect(await pendingMigrations(db.pool())).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('applies each migration once when two replicas start together', async () => {
    const [a, b] = await Promise.all([migrate(db.pool()), migrate(db.pool())]);
    expect([...a, ...b].sort()).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await pendingMigrations(db.pool())).toEqual([]);
    const { rows } = await db.pool().query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('is idempotent', async () => {
    expect(await migrate(db.pool())).toEqual([]);
  });

  it('creates the tables and views of DESIGN §6 in the search_path schema', async () => {
    const { rows } = await db.pool().query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'rotation_checks',
      'rotation_drains',
      'rotation_events',
      'rotation_stage_durations',
      'rotation_status',
      'rotations',
      'schema_migrations',
    ]);
  });
});
