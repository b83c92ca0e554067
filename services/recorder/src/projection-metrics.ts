import { MATERIALS } from '@caracal-rotation/contracts';
import type { Metrics } from '@caracal-rotation/observability';
import { inFlightCounts, materialStatus, readConsistent, retirementsDue } from '@caracal-rotation/projection';
import type pg from 'pg';
import type { RecorderMetrics } from './recorder-metrics.js';

/**
 * Sets the gauges drawn from the projection: `caracal_rotation_in_progress`
 * (per material), `caracal_rotation_in_flight` and
 * `caracal_rotation_step_age_seconds` (per material and state),
 * `caracal_rotation_material_age_seconds` (per material and zone; the `zone`
 * label carries the role of per-role material) and
 * `caracal_rotation_retirements_due`. Only known materials become label
 * values: a request naming garbage must not create a time series.
 * Everything is read first, in one snapshot, and the gauges are then
 * replaced synchronously, so a scrape never sees them half reset.
 */
export async function refreshProjectionMetrics(
  pool: pg.Pool,
  metrics: Pick<Metrics, 'inProgress' | 'materialAge'>,
  recorderMetrics: Pick<RecorderMetrics, 'stepAge' | 'inFlight' | 'retirementsDue'>,
): Promise<void> {
  const known = new Set<string>(MATERIALS);
  // One connection runs one query at a time: the reads go one after the other.
  const { counts, status, due } = await readConsistent(pool, async (client) => ({
    counts: await inFlightCounts(client),
    status: await materialStatus(client),
    due: await retirementsDue(client),
  }));

  const totals = new Map<string, number>();
  for (const c of counts) totals.set(c.material, (totals.get(c.material) ?? 0) + c.count);
  for (const material of MATERIALS) metrics.inProgress.set({ material }, totals.get(material) ?? 0);

  metrics.materialAge.reset();
  for (const s of status) {
    if (s.materialAgeSeconds === null || !known.has(s.material)) continue;
    metrics.materialAge.set({ material: s.material, zone: s.zoneId ?? s.role ?? '' }, s.materialAgeSeconds);
  }

  recorderMetrics.stepAge.reset();
  recorderMetrics.inFlight.reset();
  for (const c of counts) {
    if (!known.has(c.material)) continue;
    recorderMetrics.stepAge.set({ material: c.material, state: c.state }, c.oldestSeconds);
    recorderMetrics.inFlight.set({ material: c.material, state: c.state }, c.count);
  }
  recorderMetrics.retirementsDue.set(due);
}
