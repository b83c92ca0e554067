import type pg from 'pg';
import { TERMINAL_STATES } from '@caracal-rotation/lifecycle';

const TERMINAL = [...TERMINAL_STATES];

/**
 * A batch request's own lifecycle ends once its zones are planned (its row
 * says `planned`), but an operator reading the list wants to know how the
 * batch went. When every zone of a batch has ended, its row takes the
 * batch's outcome: `completed` when every zone completed, `failed` (with how
 * many did not) otherwise. The parent's `planned` is projected after every
 * zone's, so a batch whose zones are still being planned is never rolled up.
 */
export async function rollUpBatches(client: pg.ClientBase, batchIds: readonly string[]): Promise<void> {
  if (batchIds.length === 0) return;
  // Two transactions ending a batch's last two zones would each count the other's zone
  // as still open (neither sees the other's rows before it commits) and neither would
  // roll the batch up. A lock per batch, taken after the rotations' own locks and in one
  // order, makes the second wait for the first to commit; its count, a statement later,
  // then sees every zone.
  await client.query(
    `SELECT pg_advisory_xact_lock(k) FROM (
       SELECT DISTINCT hashtextextended('caracal-rotation/batch/' || coalesce(current_schema(), '') || '/' || id, 0) AS k
         FROM unnest($1::text[]) AS id ORDER BY k
     ) AS keys`,
    [batchIds],
  );
  await client.query(
    `WITH zones AS (
       SELECT batch_id,
              count(*) AS total,
              count(*) FILTER (WHERE state <> ALL ($2::text[])) AS open,
              count(*) FILTER (WHERE state <> 'completed') AS missed,
              string_agg(DISTINCT state, ', ' ORDER BY state) FILTER (WHERE state <> 'completed') AS missed_states,
              max(completed_at) AS ended_at
         FROM rotations
        WHERE batch_id = ANY ($1::uuid[])
        GROUP BY batch_id)
     UPDATE rotations p
        SET state = CASE WHEN z.missed = 0 THEN 'completed' ELSE 'failed' END,
            completed_at = CASE WHEN z.missed = 0 THEN z.ended_at ELSE p.completed_at END,
            failure = CASE WHEN z.missed = 0 THEN NULL ELSE z.missed || ' of ' || z.total || ' zones did not complete (' || z.missed_states || ')' END,
            updated_at = now()
       FROM zones z
      WHERE p.rotation_id = z.batch_id AND p.batch_parent AND p.state = 'planned' AND z.open = 0`,
    [batchIds, TERMINAL],
  );
}
