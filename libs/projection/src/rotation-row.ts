import type { RotationState } from '@caracal-rotation/lifecycle';
import type { RotationFacts, RotationRecord } from './records.js';
import { iso } from './values.js';

/** The columns of `rotations` as they come back from pg (timestamptz as Date). */
export interface RotationRow {
  rotation_id: string;
  batch_id: string | null;
  material: string | null;
  zone_id: string | null;
  role: string | null;
  state: RotationState;
  progress: number;
  phase: string | null;
  actor: string | null;
  reason: string | null;
  ticket: string | null;
  emergency: boolean;
  dry_run: boolean;
  batch_parent: boolean;
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
  plan_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** `rotations` columns a read selects, for a table aliased `r`. */
export const ROTATION_COLUMNS = `r.rotation_id, r.batch_id, r.material, r.zone_id, r.role, r.state, r.progress, r.phase, r.actor, r.reason,
  r.ticket, r.emergency, r.dry_run, r.batch_parent, r.requested_at, r.completed_at, r.new_kid, r.previous_kid, r.secret_location,
  r.retire_after, r.retired_at, r.failure, r.diagnosis, r.rolled_back, r.plan_id, r.created_at, r.updated_at`;

/** Rotations being worked on: not ended, not a dry run, not the request of a batch (its zones are rotations of their own). */
export const IN_FLIGHT_CONDITION = `r.state NOT IN ('completed', 'failed', 'rejected', 'abandoned') AND NOT r.dry_run AND NOT r.batch_parent`;

export function toRotationRecord(r: RotationRow): RotationRecord {
  return {
    rotationId: r.rotation_id,
    batchId: r.batch_id,
    material: r.material,
    zoneId: r.zone_id,
    role: r.role,
    state: r.state,
    progress: r.progress,
    phase: r.phase,
    actor: r.actor,
    reason: r.reason,
    ticket: r.ticket,
    emergency: r.emergency,
    dryRun: r.dry_run,
    batchParent: r.batch_parent,
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
    planId: r.plan_id,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** The projection-owned facts of a record (what folding events reads and writes). */
export function factsOf(record: RotationRecord): RotationFacts {
  const { createdAt: _created, updatedAt: _updated, ...facts } = record;
  return facts;
}
