import type { Database } from './transaction.js';

/** A stream/group pair of a rotation's drain set and the stream's last entry id when the deploy's restarts completed. */
export interface DrainMark {
  stream: string;
  group: string;
  mark: string;
}

export interface RotationDrainMark extends DrainMark {
  rotationId: string;
}

/** What the drain gate found for one pair of one rotation (docs/architecture.md §7). */
export interface DrainEvidence extends RotationDrainMark {
  pending: number;
  lag: number | null;
  drained: boolean;
  abandoned: boolean;
  idleMs: number | null;
}

/**
 * Records the marks of rotations. A pair already marked keeps its first
 * mark, so a retried event never moves the gate; `marked_at` in
 * `rotation_retirements` says the marks were taken, even when the drain set
 * is empty. `rotationIds` are the rotations whose marks were taken now.
 */
export async function recordDrainMarks(db: Database, rotationIds: readonly string[], marks: readonly RotationDrainMark[]): Promise<void> {
  if (marks.length > 0) {
    await db.query(
      `INSERT INTO rotation_drains (rotation_id, stream, group_name, mark)
       SELECT m.rotation_id, m.stream, m.group_name, m.mark
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS m(rotation_id, stream, group_name, mark)
       ON CONFLICT (rotation_id, stream, group_name) DO NOTHING`,
      [marks.map((m) => m.rotationId), marks.map((m) => m.stream), marks.map((m) => m.group), marks.map((m) => m.mark)],
    );
  }
  if (rotationIds.length === 0) return;
  await db.query(
    `INSERT INTO rotation_retirements (rotation_id, marked_at)
     SELECT DISTINCT id, now() FROM unnest($1::uuid[]) AS id
     ON CONFLICT (rotation_id) DO UPDATE SET marked_at = COALESCE(rotation_retirements.marked_at, EXCLUDED.marked_at)`,
    [[...new Set(rotationIds)]],
  );
}

/** The marks of each rotation. */
export async function drainMarksOf(db: Database, rotationIds: readonly string[]): Promise<Map<string, DrainMark[]>> {
  const byRotation = new Map<string, DrainMark[]>(rotationIds.map((id) => [id, []]));
  if (rotationIds.length === 0) return byRotation;
  const { rows } = await db.query<{ rotation_id: string; stream: string; group_name: string; mark: string }>(
    `SELECT rotation_id, stream, group_name, mark FROM rotation_drains
      WHERE rotation_id = ANY ($1::uuid[]) ORDER BY rotation_id, stream, group_name`,
    [rotationIds],
  );
  for (const r of rows) byRotation.get(r.rotation_id)?.push({ stream: r.stream, group: r.group_name, mark: r.mark });
  return byRotation;
}

/** Stores the latest inspection of each pair (the mark itself never changes). */
export async function recordDrainEvidence(db: Database, evidence: readonly DrainEvidence[]): Promise<void> {
  if (evidence.length === 0) return;
  await db.query(
    `UPDATE rotation_drains d
        SET pending = e.pending, lag = e.lag, drained = e.drained, abandoned = e.abandoned, idle_ms = e.idle_ms, checked_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::bool[], $7::bool[], $8::bigint[])
            AS e(rotation_id, stream, group_name, pending, lag, drained, abandoned, idle_ms)
      WHERE d.rotation_id = e.rotation_id AND d.stream = e.stream AND d.group_name = e.group_name`,
    [
      evidence.map((e) => e.rotationId),
      evidence.map((e) => e.stream),
      evidence.map((e) => e.group),
      evidence.map((e) => e.pending),
      evidence.map((e) => e.lag),
      evidence.map((e) => e.drained),
      evidence.map((e) => e.abandoned),
      evidence.map((e) => e.idleMs),
    ],
  );
}
