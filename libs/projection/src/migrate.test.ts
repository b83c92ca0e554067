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

  it('creates the tables and views of docs/architecture.md §9 in the search_path schema', async () => {
    const { rows } = await db.pool().query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`,
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'rotation_checks',
      'rotation_drains',
      'rotation_events',
      'rotation_plans',
      'rotation_retirements',
      'rotation_stage_durations',
      'rotation_status',
      'rotations',
      'schema_migrations',
    ]);
  });
});

const legacy = useTestDatabase('proj_migrate_legacy', { migrated: false });

describe('migration 3 (plans by reference, lifecycle states)', () => {
  it('keeps the rows of the previous contract: drain marks, batch parents, the whole plans they carried', async () => {
    const pool = legacy.pool();
    await migrate(pool, MIGRATIONS.filter((m) => m.version < 3));
    const batch = '0190f0a0-0000-7000-8000-000000000001';
    const child = '0190f0a0-0000-7000-8000-000000000002';
    await pool.query(
      `INSERT INTO rotations (rotation_id, state, progress, material, plan, drain_marked_at) VALUES
         ($1, 'planned', 2, 'ZONE_SIGNING_KEY', '{"phases": ["deploy"]}', NULL),
         ($2, 'waiting_retirement', 23, 'ZONE_SIGNING_KEY', NULL, '2026-01-01T00:00:00Z')`,
      [batch, child],
    );
    await pool.query(`UPDATE rotations SET batch_id = $1 WHERE rotation_id = $2`, [batch, child]);

    expect(await migrate(pool)).toEqual([3]);
    const { rows } = await pool.query('SELECT rotation_id, batch_parent, legacy_plan, plan_id FROM rotations ORDER BY rotation_id');
    expect(rows).toEqual([
      { rotation_id: batch, batch_parent: true, legacy_plan: { phases: ['deploy'] }, plan_id: null },
      { rotation_id: child, batch_parent: false, legacy_plan: null, plan_id: null },
    ]);
    const marked = await pool.query('SELECT rotation_id, marked_at FROM rotation_retirements');
    expect(marked.rows).toEqual([{ rotation_id: child, marked_at: new Date('2026-01-01T00:00:00Z') }]);
    // The views answer over the migrated rows: a batch's request is not a rotation of its own.
    const status = await pool.query('SELECT latest_rotation_id FROM rotation_status');
    expect(status.rows).toEqual([{ latest_rotation_id: child }]);
  });
});
