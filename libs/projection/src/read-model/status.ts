import type { RotationState } from '@caracal-rotation/lifecycle';
import type { MaterialStatusRecord } from '../records.js';
import { IN_FLIGHT_CONDITION } from '../rotation-row.js';
import type { Database } from '../transaction.js';
import { iso } from '../values.js';

/** Rows of the `rotation_status` view: latest rotation, current kid and its age per material, zone and role. */
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

export interface InFlightCount {
  material: string;
  state: RotationState;
  count: number;
  /** Seconds the oldest of them has spent since its last event (waiting_retirement: seconds past the end of its window). */
  oldestSeconds: number;
}

/**
 * Rotations in flight per material and state, and how long the oldest has
 * waited. A rotation waiting for retirement legitimately waits out its
 * window, so there the wait counts from `retire_after` (the drain gate holding it).
 */
export async function inFlightCounts(db: Database): Promise<InFlightCount[]> {
  const { rows } = await db.query<{ material: string; state: RotationState; count: number; seconds: number }>(
    `SELECT r.material, r.state, count(*)::int AS count,
            max(CASE WHEN r.state = 'waiting_retirement' AND r.retire_after IS NOT NULL
                     THEN GREATEST(0, EXTRACT(EPOCH FROM now() - r.retire_after))
                     ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - r.updated_at)) END)::double precision AS seconds
       FROM rotations r
      WHERE r.material IS NOT NULL AND ${IN_FLIGHT_CONDITION}
      GROUP BY r.material, r.state`,
  );
  return rows.map((r) => ({ material: r.material, state: r.state, count: r.count, oldestSeconds: r.seconds }));
}

/** Rotations in flight per material. */
export async function rotationsInProgress(db: Database): Promise<Map<string, number>> {
  const totals = new Map<string, number>();
  for (const c of await inFlightCounts(db)) totals.set(c.material, (totals.get(c.material) ?? 0) + c.count);
  return totals;
}

/** Rotations whose rollback window has ended and that still wait for retirement (the drain gate, or the timer). */
export async function retirementsDue(db: Database): Promise<number> {
  const { rows } = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM rotations WHERE state = 'waiting_retirement' AND retire_after <= now()`,
  );
  return rows[0]!.count;
}

/** Material, zone and role of every rotation in flight (what the rotation policies must not request again). */
export async function inFlightSubjects(db: Database): Promise<{ material: string; zoneId: string | null; role: string | null }[]> {
  const { rows } = await db.query<{ material: string; zone_id: string | null; role: string | null }>(
    `SELECT DISTINCT r.material, r.zone_id, r.role FROM rotations r WHERE r.material IS NOT NULL AND ${IN_FLIGHT_CONDITION}`,
  );
  return rows.map((r) => ({ material: r.material, zoneId: r.zone_id, role: r.role }));
}

/** The ids among `ids` that the projection has a rotation for. */
export async function existingRotations(db: Database, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ rotation_id: string }>('SELECT rotation_id FROM rotations WHERE rotation_id = ANY ($1::uuid[])', [ids]);
  return new Set(rows.map((r) => r.rotation_id));
}
