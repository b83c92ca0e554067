import type { Database } from './transaction.js';

/** A stream/group pair of the drain set and the stream's last entry id when the deploy roll completed. */
export interface DrainMark {
  stream: string;
  group: string;
  mark: string;
}

/** What the drain gate found for one pair (DESIGN §5). */
export interface DrainEvidence extends DrainMark {
  pending: number;
  lag: number | null;
  drained: boolean;
}

/**
 * Records the marks of a rotation. A pair already marked keeps its first
 * mark, so a retried roll event never moves the gate; `drain_marked_at` says
 * the marks were taken, even when the drain set turned out empty.
 */
export async function recordDrainMarks(db: Database, rotationId: string, marks: readonly DrainMark[]): Promise<void> {
  if (marks.length > 0) {
    await db.query(
      `INSERT INTO rotation_drains (rotation_id, stream, group_name, mark)
       SELECT $1, m.stream, m.group_name, m.mark FROM unnest($2::text[], $3::text[], $4::text[]) AS m(stream, group_name, mark)
       ON CONFLICT (rotation_id, stream, group_name) DO NOTHING`,
      [rotationId, marks.map((m) => m.stream), marks.map((m) => m.group), marks.map((m) => m.mark)],
    );
  }
  await db.query('UPDATE rotations SET drain_marked_at = coalesce(drain_marked_at, now()) WHERE rotation_id = $1', [rotationId]);
}

export async function drainMarksOf(db: Database, rotationId: string): Promise<DrainMark[]> {
  const { rows } = await db.query<{ stream: string; group_name: string; mark: string }>(
    'SELECT stream, group_name, mark FROM rotation_drains WHERE rotation_id = $1 ORDER BY stream, group_name',
    [rotationId],
  );
  return rows.map((r) => ({ stream: r.stream, group: r.group_name, mark: r.mark }));
}

/** Stores the latest inspection of each pair (the mark itself never changes). */
export async function recordDrainEvidence(db: Database, rotationId: string, evidence: readonly DrainEvidence[]): Promise<void> {
  if (evidence.length === 0) return;
  await db.query(
    `UPDATE rotation_drains d
        SET pending = e.pending, lag = e.lag, drained = e.drained, checked_at = now()
       FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::bool[]) AS e(stream, group_name, pending, lag, drained)
      WHERE d.rotation_id = $1 AND d.stream = e.stream AND d.group_name = e.group_name`,
    [
      rotationId,
      evidence.map((e) => e.stream),
      evidence.map((e) => e.group),
      evidence.map((e) => e.pending),
      evidence.map((e) => e.lag),
      evidence.map((e) => e.drained),
    ],
  );
}
