import type { Plan } from '@caracal-rotation/contracts';
import type { ListRotationsFilter, RotationDetail, RotationRecord } from '../records.js';
import { IN_FLIGHT_CONDITION, ROTATION_COLUMNS, toRotationRecord, type RotationRow } from '../rotation-row.js';
import type { Database } from '../transaction.js';
import { isUuid } from '../values.js';

/** One rotation with its plan, or undefined when there is none with this id (or the id is not a UUID). */
export async function getRotation(db: Database, rotationId: string): Promise<RotationDetail | undefined> {
  if (!isUuid(rotationId)) return undefined;
  const { rows } = await db.query<RotationRow & { plan: Plan | null; plan_hash: string | null }>(
    `SELECT ${ROTATION_COLUMNS}, p.plan, p.hash AS plan_hash
       FROM rotations r LEFT JOIN rotation_plans p ON p.plan_id = r.plan_id
      WHERE r.rotation_id = $1`,
    [rotationId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { ...toRotationRecord(row), plan: row.plan, planRef: row.plan_id && row.plan_hash ? { id: row.plan_id, hash: row.plan_hash } : null };
}

/** Rotations matching every given filter, newest first. */
export async function listRotations(db: Database, filter: ListRotationsFilter): Promise<RotationRecord[]> {
  if (filter.batchId !== undefined && !isUuid(filter.batchId)) return [];
  const states = filter.states ?? (filter.state ? [filter.state] : null);
  const { rows } = await db.query<RotationRow>(
    `SELECT ${ROTATION_COLUMNS} FROM rotations r
      WHERE ($1::text[] IS NULL OR r.state = ANY ($1::text[]))
        AND ($2::text IS NULL OR r.material = $2)
        AND ($3::uuid IS NULL OR r.batch_id = $3)
        AND (NOT $4::bool OR (${IN_FLIGHT_CONDITION}))
      ORDER BY r.created_at DESC, r.rotation_id DESC
      LIMIT $5`,
    [states, filter.material ?? null, filter.batchId ?? null, filter.inFlight === true, filter.limit],
  );
  return rows.map(toRotationRecord);
}
