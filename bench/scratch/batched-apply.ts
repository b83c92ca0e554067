/*
 * BENCH PROTOTYPE (not used by the recorder): projecting a batch of events in
 * ONE transaction instead of one transaction per event. The statements per
 * event are exactly those of libs/projection/src/apply-event.ts (copied below,
 * marked); only BEGIN/COMMIT are shared by the batch. If the batch fails it is
 * rolled back and replayed one event per transaction with the real applyEvent,
 * so one poisonous event never blocks the others (the recorder would then ack
 * per event as today).
 */
import type { EventData, EventName, RotationEvent } from '@caracal-rotation/contracts';
import { applyEvent, recordDrainMarks, transaction, type Database, type DrainMark } from '@caracal-rotation/projection';
import type pg from 'pg';
import { requestRecord } from '../../libs/projection/src/request-record.js';
import { rotationPatch, type RotationPatch, type StoredRotation } from '../../libs/projection/src/rotation-patch.js';
import { withoutNul } from '../../libs/projection/src/sanitize.js';

export interface BatchItem {
  stream: string;
  event: RotationEvent<unknown>;
  name: EventName;
  drainMarks?: readonly DrainMark[];
}

// ---- copied from libs/projection/src/apply-event.ts (unchanged) ----
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

async function lockRotation(client: pg.ClientBase, rotationId: string): Promise<StoredRotation> {
  await client.query(`INSERT INTO rotations (rotation_id, state, progress) VALUES ($1, 'requested', -1) ON CONFLICT (rotation_id) DO NOTHING`, [rotationId]);
  const { rows } = await client.query<StoredRotation>('SELECT * FROM rotations WHERE rotation_id = $1 FOR UPDATE', [rotationId]);
  return rows[0]!;
}

async function updateRotation(client: pg.ClientBase, rotationId: string, patch: RotationPatch): Promise<void> {
  const entries = Object.entries(patch);
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
    [event.eventId, event.rotationId, data.phase, data.checks.map((c) => c.name), data.checks.map((c) => c.ok), data.checks.map((c) => c.detail), data.checks.map((c) => c.duration_ms)],
  );
}
// ---- end of copy ----

/** The body of applyEvent's transaction, on a connection already inside a transaction. */
async function applyInTransaction(client: pg.ClientBase, { stream, event, name, drainMarks }: BatchItem): Promise<void> {
  const data = withoutNul(name === 'requested' ? requestRecord(event.data) : event.data);
  const safeEvent = withoutNul({ ...event, data });
  if (!(await insertEvent(client, stream, safeEvent, data))) return;
  const row = await lockRotation(client, event.rotationId);
  const patch = rotationPatch(row, name, safeEvent);
  await updateRotation(client, event.rotationId, patch);
  if (name === 'verified') await insertChecks(client, safeEvent, data as EventData['verified']);
  if (drainMarks) await recordDrainMarks(client, event.rotationId, drainMarks);
}

/** Projects `items` in one transaction; on failure, one transaction per event with the real applyEvent. */
export async function applyEventsBatched(db: Database, items: readonly BatchItem[]): Promise<{ batched: boolean }> {
  // Row locks in one order (rotation id) in every transaction, so concurrent batches touching the same
  // rotations wait for each other instead of deadlocking. The sort is stable: one rotation's events keep their order.
  const ordered = [...items].sort((a, b) => (a.event.rotationId < b.event.rotationId ? -1 : a.event.rotationId > b.event.rotationId ? 1 : 0));
  try {
    await transaction(db, async (client) => {
      for (const item of ordered) await applyInTransaction(client, item);
    });
    return { batched: true };
  } catch {
    for (const item of items) await applyEvent(db, item.stream, item.event, item.name, { drainMarks: item.drainMarks });
    return { batched: false };
  }
}

/**
 * PROTOTYPE, set-based: the same projection for a whole batch in a handful of
 * statements: one multi-row INSERT of the events (RETURNING the ones not seen
 * before), one INSERT of missing rotation rows, one SELECT … FOR UPDATE of all
 * of them (in rotation id order), the state machine (rotationPatch, unchanged)
 * folded in memory per rotation, one UPDATE per rotation touched, one INSERT of
 * all checks, and the drain marks of the deploy rolls.
 */
export async function applyEventsSetBased(db: Database, items: readonly BatchItem[]): Promise<{ batched: boolean }> {
  const seen = new Set<string>();
  const prepared = items
    .filter((it) => !seen.has(it.event.eventId) && seen.add(it.event.eventId))
    .map((it) => {
      const data = withoutNul(it.name === 'requested' ? requestRecord(it.event.data) : it.event.data);
      return { ...it, data, safeEvent: withoutNul({ ...it.event, data }) };
    });
  try {
    await transaction(db, async (client) => {
      const { rows: inserted } = await client.query<{ event_id: string }>(
        `INSERT INTO rotation_events (event_id, rotation_id, type, stream, entry_id, occurred_at, producer, kid, data)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::jsonb[])
         ON CONFLICT (event_id) DO NOTHING
         RETURNING event_id`,
        [
          prepared.map((p) => p.safeEvent.eventId),
          prepared.map((p) => p.safeEvent.rotationId),
          prepared.map((p) => p.safeEvent.type),
          prepared.map((p) => p.stream),
          prepared.map((p) => p.safeEvent.entryId),
          prepared.map((p) => p.safeEvent.occurredAt),
          prepared.map((p) => p.safeEvent.producer),
          prepared.map((p) => p.safeEvent.kid),
          prepared.map((p) => JSON.stringify(p.data)),
        ],
      );
      const fresh = new Set(inserted.map((r) => r.event_id));
      const applied = prepared.filter((p) => fresh.has(p.safeEvent.eventId));
      if (applied.length === 0) return;
      const ids = [...new Set(applied.map((p) => p.event.rotationId))].sort();
      await client.query(`INSERT INTO rotations (rotation_id, state, progress) SELECT id, 'requested', -1 FROM unnest($1::uuid[]) AS id ORDER BY id ON CONFLICT (rotation_id) DO NOTHING`, [ids]);
      const { rows } = await client.query<StoredRotation & { rotation_id: string }>('SELECT * FROM rotations WHERE rotation_id = ANY($1::uuid[]) ORDER BY rotation_id FOR UPDATE', [ids]);
      const current = new Map(rows.map((r) => [r.rotation_id, r as StoredRotation]));
      const patches = new Map<string, RotationPatch>();
      for (const p of applied) {
        const row = current.get(p.event.rotationId)!;
        const patch = rotationPatch(row, p.name, p.safeEvent);
        current.set(p.event.rotationId, { ...row, ...patch } as StoredRotation);
        patches.set(p.event.rotationId, { ...(patches.get(p.event.rotationId) ?? {}), ...patch });
      }
      for (const [id, patch] of patches) await updateRotation(client, id, patch);
      const checks = applied.filter((p) => p.name === 'verified').flatMap((p) => (p.data as EventData['verified']).checks.map((c) => ({ p, c })));
      if (checks.length > 0) {
        await client.query(
          `INSERT INTO rotation_checks (event_id, rotation_id, phase, name, ok, detail, duration_ms)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::float8[])
           ON CONFLICT (event_id, name) DO NOTHING`,
          [
            checks.map(({ p }) => p.safeEvent.eventId),
            checks.map(({ p }) => p.safeEvent.rotationId),
            checks.map(({ p }) => (p.data as EventData['verified']).phase),
            checks.map(({ c }) => c.name),
            checks.map(({ c }) => c.ok),
            checks.map(({ c }) => c.detail),
            checks.map(({ c }) => c.duration_ms),
          ],
        );
      }
      for (const p of applied) if (p.drainMarks) await recordDrainMarks(client, p.event.rotationId, p.drainMarks);
    });
    return { batched: true };
  } catch {
    for (const item of items) await applyEvent(db, item.stream, item.event, item.name, { drainMarks: item.drainMarks });
    return { batched: false };
  }
}
