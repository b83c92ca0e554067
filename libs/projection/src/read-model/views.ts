import type { Plan } from '@caracal-rotation/contracts';
import type { InFlightRotation, RotationCheckRecord, RotationRecord } from '../records.js';
import { IN_FLIGHT_CONDITION, ROTATION_COLUMNS, toRotationRecord, type RotationRow } from '../rotation-row.js';
import type { Database } from '../transaction.js';
import { checksOfRotations, eventsOfRotations } from './evidence.js';
import { rotationPath } from './path.js';

/** Rotations in flight, newest request first, each with its expected path (libs/lifecycle), the steps done, and its events. */
export async function inFlightRotations(db: Database, options: { limit: number }): Promise<InFlightRotation[]> {
  const { rows } = await db.query<RotationRow & { plan: Plan | null }>(
    `SELECT ${ROTATION_COLUMNS}, p.plan
       FROM rotations r LEFT JOIN rotation_plans p ON p.plan_id = r.plan_id
      WHERE ${IN_FLIGHT_CONDITION}
      ORDER BY COALESCE(r.requested_at, r.created_at) DESC, r.rotation_id DESC
      LIMIT $1`,
    [options.limit],
  );
  const events = await eventsOfRotations(
    db,
    rows.map((r) => r.rotation_id),
  );
  return rows.map((row) => {
    const recorded = events.get(row.rotation_id) ?? [];
    return {
      rotation: toRotationRecord(row),
      path: row.plan ? rotationPath(row.plan, recorded, { state: row.state, progress: row.progress }) : [],
      events: recorded,
    };
  });
}

/** The last rotations that ended (or were dry runs), newest first; the requests of batches are left out (their zones are listed). */
export async function recentlyEnded(db: Database, options: { limit: number }): Promise<RotationRecord[]> {
  const { rows } = await db.query<RotationRow>(
    `SELECT ${ROTATION_COLUMNS} FROM rotations r
      WHERE (r.state IN ('completed', 'failed', 'rejected', 'abandoned') OR r.dry_run) AND NOT r.batch_parent
      ORDER BY COALESCE(r.completed_at, r.updated_at) DESC, r.rotation_id DESC
      LIMIT $1`,
    [options.limit],
  );
  return rows.map(toRotationRecord);
}

/** The last failed or rejected rotations, newest first, with their failing checks. */
export async function recentFailures(db: Database, options: { limit: number }): Promise<{ rotation: RotationRecord; failedChecks: RotationCheckRecord[] }[]> {
  const { rows } = await db.query<RotationRow>(
    `SELECT ${ROTATION_COLUMNS} FROM rotations r
      WHERE r.state IN ('failed', 'rejected')
      ORDER BY r.updated_at DESC, r.rotation_id DESC
      LIMIT $1`,
    [options.limit],
  );
  const checks = await checksOfRotations(
    db,
    rows.map((r) => r.rotation_id),
    { failedOnly: true },
  );
  return rows.map((r) => ({ rotation: toRotationRecord(r), failedChecks: checks.get(r.rotation_id) ?? [] }));
}
