import type { ListRotationsFilter, RotationRecord } from './records.js';
import type { RotationState } from './states.js';
import type { Database } from './transaction.js';
import { isUuid, iso } from './values.js';

interface RotationRow {
  rotation_id: string;
  batch_id: string | null;
  material: string | null;
  zone_id: string | null;
  role: string | null;
  state: RotationState;
  phase: string | null;
  progress: number;
  actor: string | null;
  reason: string | null;
  ticket: string | null;
  emergency: boolean;
  dry_run: boolean;
  requested_at: Date | null;
  completed_at: Date | null;
  new_kid: string | null;
  previous_kid: string | null;
  secret_location: string | null;
  retire_after: Date | null;
  retired_at: Date | null;
  failure: string | null;
  diagnosis: string | null;
  rolled_back: boolean;
  plan: unknown;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `rotation_id, batch_id, material, zone_id, role, state, phase, progress, actor, reason, ticket, emergency,
  dry_run, requested_at, completed_at, new_kid, previous_kid, secret_location, retire_after, retired_at, failure,
  diagnosis, rolled_back, plan, created_at, updated_at`;

function toRecord(r: RotationRow): RotationRecord {
  return {
    rotationId: r.rotation_id,
    batchId: r.batch_id,
    material: r.material,
    zoneId: r.zone_id,
    role: r.role,
    state: r.state,
    phase: r.phase,
    progress: r.progress,
    actor: r.actor,
    reason: r.reason,
    ticket: r.ticket,
    emergency: r.emergency,
    dryRun: r.dry_run,
    requestedAt: iso(r.requested_at),
    completedAt: iso(r.completed_at),
    newKid: r.new_kid,
    previousKid: r.previous_kid,
    secretLocation: r.secret_location,
    retireAfter: iso(r.retire_after),
    retiredAt: iso(r.retired_at),
    failure: r.failure,
    diagnosis: r.diagnosis,
    rolledBack: r.rolled_back,
    plan: r.plan,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** One rotation, or undefined when there is none with this id (or the id is not a UUID). */
export async function getRotation(db: Database, rotationId: string): Promise<RotationRecord | undefined> {
  if (!isUuid(rotationId)) return undefined;
  const { rows } = await db.query<RotationRow>(`SELECT ${COLUMNS} FROM rotations WHERE rotation_id = $1`, [rotationId]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** Rotations matching every given filter, newest first. */
export async function listRotations(db: Database, filter: ListRotationsFilter): Promise<RotationRecord[]> {
  if (filter.batchId !== undefined && !isUuid(filter.batchId)) return [];
  const { rows } = await db.query<RotationRow>(
    `SELECT ${COLUMNS} FROM rotations
      WHERE ($1::text IS NULL OR state = $1)
        AND ($2::text IS NULL OR material = $2)
        AND ($3::uuid IS NULL OR batch_id = $3)
      ORDER BY created_at DESC, rotation_id DESC
      LIMIT $4`,
    [filter.state ?? null, filter.material ?? null, filter.batchId ?? null, filter.limit],
  );
  return rows.map(toRecord);
}
