import type { RotationCheckRecord, RotationDrainRecord, RotationEventRecord, RotationEvidence } from '../records.js';
import type { Database } from '../transaction.js';
import { isUuid, iso } from '../values.js';

interface EventRow {
  event_id: string;
  rotation_id: string;
  type: string;
  stream: string;
  entry_id: string;
  occurred_at: Date;
  producer: string;
  kid: string;
  signer: string | null;
  data: unknown;
}

const toEvent = (r: EventRow): RotationEventRecord => ({
  eventId: r.event_id,
  rotationId: r.rotation_id,
  type: r.type,
  stream: r.stream,
  entryId: r.entry_id,
  occurredAt: r.occurred_at.toISOString(),
  producer: r.producer,
  kid: r.kid,
  signer: r.signer,
  data: r.data,
});

const groupBy = <T extends { rotationId: string }>(ids: readonly string[], items: T[]): Map<string, T[]> => {
  const out = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const item of items) out.get(item.rotationId)?.push(item);
  return out;
};

/** Every event recorded for each of these rotations, in the order they occurred. */
export async function eventsOfRotations(db: Database, rotationIds: readonly string[]): Promise<Map<string, RotationEventRecord[]>> {
  const ids = rotationIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<EventRow>(
    `SELECT event_id, rotation_id, type, stream, entry_id, occurred_at, producer, kid, signer, data
       FROM rotation_events WHERE rotation_id = ANY ($1::uuid[]) ORDER BY rotation_id, occurred_at, recorded_at, entry_id`,
    [ids],
  );
  return groupBy(ids, rows.map(toEvent));
}

/** Every event recorded for a rotation, in the order they occurred. */
export async function rotationEvents(db: Database, rotationId: string): Promise<RotationEventRecord[]> {
  return (await eventsOfRotations(db, [rotationId])).get(rotationId) ?? [];
}

/** The verification checks of these rotations, every phase; `failedOnly` keeps the failing ones. */
export async function checksOfRotations(db: Database, rotationIds: readonly string[], options: { failedOnly?: boolean } = {}): Promise<Map<string, RotationCheckRecord[]>> {
  const ids = rotationIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ event_id: string; rotation_id: string; phase: string; name: string; ok: boolean; detail: string; duration_ms: number }>(
    `SELECT c.event_id, c.rotation_id, c.phase, c.name, c.ok, c.detail, c.duration_ms
       FROM rotation_checks c JOIN rotation_events e USING (event_id)
      WHERE c.rotation_id = ANY ($1::uuid[]) AND (NOT $2::bool OR NOT c.ok)
      ORDER BY e.occurred_at, c.name`,
    [ids, options.failedOnly === true],
  );
  return groupBy(
    ids,
    rows.map((r) => ({ eventId: r.event_id, rotationId: r.rotation_id, phase: r.phase, name: r.name, ok: r.ok, detail: r.detail, durationMs: r.duration_ms })),
  );
}

/** The verification checks of a rotation, every phase. */
export async function rotationChecks(db: Database, rotationId: string): Promise<RotationCheckRecord[]> {
  return (await checksOfRotations(db, [rotationId])).get(rotationId) ?? [];
}

/** The drain gate's evidence for a rotation: per stream and group, the mark and the latest inspection. */
export async function rotationDrains(db: Database, rotationId: string): Promise<RotationDrainRecord[]> {
  if (!isUuid(rotationId)) return [];
  const { rows } = await db.query<{
    rotation_id: string;
    stream: string;
    group_name: string;
    mark: string;
    pending: number | null;
    lag: number | null;
    drained: boolean;
    abandoned: boolean;
    idle_ms: string | null;
    marked_at: Date;
    checked_at: Date | null;
  }>(
    `SELECT rotation_id, stream, group_name, mark, pending, lag, drained, abandoned, idle_ms, marked_at, checked_at
       FROM rotation_drains WHERE rotation_id = $1 ORDER BY stream, group_name`,
    [rotationId],
  );
  return rows.map((r) => ({
    rotationId: r.rotation_id,
    stream: r.stream,
    group: r.group_name,
    mark: r.mark,
    pending: r.pending,
    lag: r.lag,
    drained: r.drained,
    abandoned: r.abandoned,
    idleMs: r.idle_ms === null ? null : Number(r.idle_ms),
    markedAt: r.marked_at.toISOString(),
    checkedAt: iso(r.checked_at),
  }));
}

/** Everything recorded as evidence of a rotation: its events, checks and drain gate. */
export async function rotationEvidence(db: Database, rotationId: string): Promise<RotationEvidence> {
  // One after the other: `db` may be a single connection.
  return { events: await rotationEvents(db, rotationId), checks: await rotationChecks(db, rotationId), drains: await rotationDrains(db, rotationId) };
}
