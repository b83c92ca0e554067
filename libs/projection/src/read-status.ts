import type { MaterialStatusRecord } from './records.js';
import { TERMINAL_STATES, type RotationState } from './states.js';
import type { Database } from './transaction.js';
import { iso } from './values.js';

/** Rows of the `rotation_status` view: latest rotation and age of the current material per material, zone and role. */
export async function materialStatus(db: Database): Promise<MaterialStatusRecord[]> {
  const { rows } = await db.query<{
    material: string;
    zone_id: string | null;
    role: string | null;
    latest_rotation_id: string;
    latest_state: RotationState;
    latest_updated_at: Date;
    current_rotation_id: string | null;
    current_kid: string | null;
    current_since: Date | null;
    material_age_seconds: number | null;
  }>('SELECT * FROM rotation_status ORDER BY material, zone_id NULLS FIRST, role NULLS FIRST');
  return rows.map((r) => ({
    material: r.material,
    zoneId: r.zone_id,
    role: r.role,
    latestRotationId: r.latest_rotation_id,
    latestState: r.latest_state,
    latestUpdatedAt: r.latest_updated_at.toISOString(),
    currentRotationId: r.current_rotation_id,
    currentKid: r.current_kid,
    currentSince: iso(r.current_since),
    materialAgeSeconds: r.material_age_seconds,
  }));
}

/**
 * Rotations in flight per material: not terminal, not dry runs, and not the
 * parent of a fanned-out batch (its zones are counted instead).
 */
export async function rotationsInProgress(db: Database): Promise<Map<string, number>> {
  const { rows } = await db.query<{ material: string; count: number }>(
    `SELECT r.material, count(*)::int AS count
       FROM rotations r
      WHERE r.material IS NOT NULL
        AND NOT r.dry_run
        AND r.state <> ALL ($1::text[])
        AND NOT EXISTS (SELECT 1 FROM rotations child WHERE child.batch_id = r.rotation_id)
      GROUP BY r.material`,
    [TERMINAL_STATES],
  );
  return new Map(rows.map((r) => [r.material, r.count]));
}
