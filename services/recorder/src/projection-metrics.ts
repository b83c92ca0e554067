import { MATERIALS } from '@caracal-rotation/contracts';
import type { Metrics } from '@caracal-rotation/observability';
import { materialStatus, rotationsInProgress } from '@caracal-rotation/projection';
import type pg from 'pg';

/**
 * Sets `caracal_rotation_in_progress` and `caracal_rotation_material_age_seconds`
 * from the projection. Only known materials become label values: a request
 * naming garbage must not create a time series.
 */
export async function refreshProjectionMetrics(pool: pg.Pool, metrics: Pick<Metrics, 'inProgress' | 'materialAge'>): Promise<void> {
  const inProgress = await rotationsInProgress(pool);
  for (const material of MATERIALS) metrics.inProgress.set({ material }, inProgress.get(material) ?? 0);

  const known = new Set<string>(MATERIALS);
  const status = await materialStatus(pool);
  metrics.materialAge.reset();
  for (const s of status) {
    if (s.materialAgeSeconds === null || !known.has(s.material)) continue;
    // The `zone` label also carries the role of per-role material (Postgres passwords).
    metrics.materialAge.set({ material: s.material, zone: s.zoneId ?? s.role ?? '' }, s.materialAgeSeconds);
  }
}
