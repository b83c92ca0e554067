import { MATERIALS } from '@caracal-rotation/contracts';
import type { Metrics } from '@caracal-rotation/observability';
import { TERMINAL_STATES, materialStatus, rotationsInProgress } from '@caracal-rotation/projection';
import type pg from 'pg';
import type { RecorderMetrics } from './recorder-metrics.js';

/**
 * Per material and state, the seconds the oldest rotation in flight has spent
 * since its last event: what the "stage stuck" alert compares with a bound.
 * A rotation waiting for retirement legitimately waits its safety window, so
 * there it is the time past `retire_after` (the drain gate holding it).
 * Dry runs (planned, then nothing) and the parent row of a fanned-out batch
 * (its zones are rotations of their own) are not in flight.
 */
async function stepAges(pool: pg.Pool): Promise<{ material: string; state: string; seconds: number }[]> {
  const { rows } = await pool.query<{ material: string; state: string; seconds: number }>(
    `SELECT r.material, r.state,
            max(CASE WHEN r.state = 'waiting_retirement' AND r.retire_after IS NOT NULL
                     THEN GREATEST(0, EXTRACT(EPOCH FROM now() - r.retire_after))
                     ELSE GREATEST(0, EXTRACT(EPOCH FROM now() - r.updated_at)) END)::double precision AS seconds
       FROM rotations r
      WHERE r.material IS NOT NULL
        AND NOT r.dry_run
        AND r.state <> ALL ($1::text[])
        AND NOT EXISTS (SELECT 1 FROM rotations child WHERE child.batch_id = r.rotation_id)
      GROUP BY r.material, r.state`,
    [TERMINAL_STATES],
  );
  return rows;
}

/**
 * Sets `caracal_rotation_in_progress`, `caracal_rotation_material_age_seconds`
 * (per material and zone; the `zone` label carries the role of per-role
 * material) and `caracal_rotation_step_age_seconds` from the projection. Only
 * known materials become label values: a request naming garbage must not
 * create a time series. Everything is read first and the gauges are then
 * replaced synchronously, so a scrape never sees them half reset.
 */
export async function refreshProjectionMetrics(
  pool: pg.Pool,
  metrics: Pick<Metrics, 'inProgress' | 'materialAge'>,
  recorderMetrics?: Pick<RecorderMetrics, 'stepAge'>,
): Promise<void> {
  const known = new Set<string>(MATERIALS);
  const [inProgress, status, steps] = await Promise.all([rotationsInProgress(pool), materialStatus(pool), recorderMetrics ? stepAges(pool) : []]);

  for (const material of MATERIALS) metrics.inProgress.set({ material }, inProgress.get(material) ?? 0);

  metrics.materialAge.reset();
  for (const s of status) {
    if (s.materialAgeSeconds === null || !known.has(s.material)) continue;
    metrics.materialAge.set({ material: s.material, zone: s.zoneId ?? s.role ?? '' }, s.materialAgeSeconds);
  }

  if (recorderMetrics) {
    recorderMetrics.stepAge.reset();
    for (const s of steps) if (known.has(s.material)) recorderMetrics.stepAge.set({ material: s.material, state: s.state }, s.seconds);
  }
}
