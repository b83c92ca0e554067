import type { EventData, EventName, RotationEvent } from '@caracal-rotation/contracts';
import type pg from 'pg';
import { recordDrainMarks, type DrainMark } from './drains.js';
import { requestRecord } from './request-record.js';
import { rotationPatch, type RotationPatch, type StoredRotation } from './rotation-patch.js';
import { withoutNul } from './sanitize.js';
import type { RotationState } from './states.js';
import { transaction, type Database } from './transaction.js';

export interface ApplyOptions {
  /** Drain marks taken for this event (the deploy `rolled`), recorded in the same transaction. */
  drainMarks?: readonly DrainMark[];
}

export interface ApplyResult {
  /** False when the event was already recorded: nothing changed. */
  applied: boolean;
  state?: RotationState;
}

const JSON_COLUMNS = new Set(['plan', 'context']);

async function insertEvent(client: pg.ClientBase, stream: string, event: RotationEvent<unknown>, data: unknown): Promise<boolean> {
  const result = await client.query(
    `INSERT INTO rotation_events (event_id, rotation_id, type, stream, entry_id, occurred_at, producer, kid, data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (event_id) DO NOTHING`,
    [event.eventId, event.rotationId, event.type, stream, event.entryId, event.occurredAt, event.producer, event.kid, JSON.stringify(data)],
  );
  return result.rowCount === 1;
}

/**
 * Locks the rotation's row, creating it first when this is the first event
 * seen for it (events arrive in any order). A new row starts below every
 * progress so the event's own step always applies.
 */
async function lockRotation(client: pg.ClientBase, rotationId: string): Promise<StoredRotation> {
  await client.query(
    `INSERT INTO rotations (rotation_id, state, progress) VALUES ($1, 'requested', -1) ON CONFLICT (rotation_id) DO NOTHING`,
    [rotationId],
  );
  const { rows } = await client.query<StoredRotation>('SELECT * FROM rotations WHERE rotation_id = $1 FOR UPDATE', [rotationId]);
  return rows[0]!;
}

async function updateRotation(client: pg.ClientBase, rotationId: string, patch: RotationPatch): Promise<void> {
  const entries = Object.entries(patch);
  // Column names come from the fixed RotationColumn union, never from input.
  const assignments = entries.map(([column], i) => `${column} = $${i + 2}`);
  const values = entries.map(([column, value]) => (JSON_COLUMNS.has(column) && value !== null ? JSON.stringify(value) : value));
  await client.query(`UPDATE rotations SET ${[...assignments, 'updated_at = now()'].join(', ')} WHERE rotation_id = $1`, [rotationId, ...values]);
}

async function insertChecks(client: pg.ClientBase, event: RotationEvent<unknown>, data: EventData['verified']): Promise<void> {
  if (data.checks.length === 0) return;
  await client.query(
    `INSERT INTO rotation_checks (event_id, rotation_id, phase, name, ok, detail, duration_ms)
     SELECT $1, $2, $3, c.name, c.ok, c.detail, c.duration_ms
       FROM unnest($4::text[], $5::bool[], $6::text[], $7::float8[]) AS c(name, ok, detail, duration_ms)
     ON CONFLICT (event_id, name) DO NOTHING`,
    [
      event.eventId,
      event.rotationId,
      data.phase,
      data.checks.map((c) => c.name),
      data.checks.map((c) => c.ok),
      data.checks.map((c) => c.detail),
      data.checks.map((c) => c.duration_ms),
    ],
  );
}

/**
 * Projects one event (DESIGN §6) in one transaction: records it, idempotent
 * on `event_id` (an event already recorded changes nothing), then moves its
 * rotation's row forward and stores the verification and drain evidence it
 * brings. `event.data` must already satisfy the contract schema of `name`,
 * except for `requested`, which may be any JSON object. Given a connection
 * rather than a pool, that connection must not already be in a transaction.
 */
export async function applyEvent(
  db: Database,
  stream: string,
  event: RotationEvent<unknown>,
  name: EventName,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const data = withoutNul(name === 'requested' ? requestRecord(event.data) : event.data);
  const safeEvent = withoutNul({ ...event, data });
  return transaction(db, async (client) => {
    if (!(await insertEvent(client, stream, safeEvent, data))) return { applied: false };
    const row = await lockRotation(client, event.rotationId);
    const patch = rotationPatch(row, name, safeEvent);
    await updateRotation(client, event.rotationId, patch);
    if (name === 'verified') await insertChecks(client, safeEvent, data as EventData['verified']);
    if (options.drainMarks) await recordDrainMarks(client, event.rotationId, options.drainMarks);
    return { applied: true, state: (patch.state ?? row.state) as RotationState };
  });
}
