import type { RotationCheckRecord, RotationDrainRecord, RotationEventRecord } from './records.js';
import type { Database } from './transaction.js';
import { isUuid, iso } from './values.js';

/** Every event recorded for a rotation, in the order they occurred. */
export async function rotationEvents(db: Database, rotationId: string): Promise<RotationEventRecord[]> {
  if (!isUuid(rotationId)) return [];
  const { rows } = await db.query<{
    event_id: string;
    rotation_id: string;
    type: string;
    stream: string;
    entry_id: string;
    occurred_at: Date;
    producer: string;
    kid: string;
    data: unknown;
  }>(
    `SELECT event_id, rotation_id, type, stream, entry_id, occurred_at, producer, kid, data
       FROM rotation_events WHERE rotation_id = $1 ORDER BY occurred_at, recorded_at`,
    [rotationId],
  );
  return rows.map((r) => ({
    eventId: r.event_id,
    rotationId: r.rotation_id,
    type: r.type,
    stream: r.stream,
    entryId: r.entry_id,
    occurredAt: r.occurred_at.toISOString(),
    producer: r.producer,
    kid: r.kid,
    data: r.data,
  }));
}

/** The verification checks of a rotation, every phase. */
export async function rotationChecks(db: Database, rotationId: string): Promise<RotationCheckRecord[]> {
  if (!isUuid(rotationId)) return [];
  const { rows } = await db.query<{
    event_id: string;
    rotation_id: string;
    phase: string;
    name: string;
    ok: boolean;
    detail: string;
    duration_ms: number;
  }>(
    `SELECT c.event_id, c.rotation_id, c.phase, c.name, c.ok, c.detail, c.duration_ms
       FROM rotation_checks c JOIN rotation_events e USING (event_id)
      WHERE c.rotation_id = $1 ORDER BY e.occurred_at, c.name`,
    [rotationId],
  );
  return rows.map((r) => ({
    eventId: r.event_id,
    rotationId: r.rotation_id,
    phase: r.phase,
    name: r.name,
    ok: r.ok,
    detail: r.detail,
    durationMs: r.duration_ms,
  }));
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
    marked_at: Date;
    checked_at: Date | null;
  }>(
    `SELECT rotation_id, stream, group_name, mark, pending, lag, drained, marked_at, checked_at
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
    markedAt: r.marked_at.toISOString(),
    checkedAt: iso(r.checked_at),
  }));
}
