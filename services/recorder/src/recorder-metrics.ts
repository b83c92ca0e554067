import { MATERIALS, normalizeMaterial, type Catalog } from '@caracal-rotation/contracts';
import type { Metrics } from '@caracal-rotation/observability';
import { Counter, Gauge } from 'prom-client';

/** Terminal outcomes counted by `caracal_rotation_rotations_total`. */
export const ROTATION_OUTCOMES = ['completed', 'failed', 'rejected'] as const;
export type RotationOutcome = (typeof ROTATION_OUTCOMES)[number];

/**
 * The recorder's own metric families, registered in the runtime's registry
 * next to the shared ones of libs/observability (so one `/metrics` has both).
 * Label values are bounded: materials of the contract (anything else is
 * `unknown`) and rotation states.
 */
export interface RecorderMetrics {
  /** Terminal events projected, by material and outcome (what the "rotation failed" alert counts). */
  rotationsTotal: Counter<'material' | 'outcome'>;
  /** Per material and state, how long the oldest rotation in flight has been there (see step-age query). */
  stepAge: Gauge<'material' | 'state'>;
  /** The catalog's rotation policy, so alerts can compare the material age with it. */
  maxAge: Gauge<'material'>;
  /** Requests the policy scheduler emitted. */
  policyRequestsTotal: Counter<'material'>;
}

/** A material name as a label value: canonical, or `unknown` (a request naming garbage must not create a series). */
export const materialLabel = (name: unknown): string => (typeof name === 'string' ? (normalizeMaterial(name) ?? 'unknown') : 'unknown');

export function createRecorderMetrics(metrics: Pick<Metrics, 'registry'>, catalog: Catalog): RecorderMetrics {
  const registers = [metrics.registry];
  const m: RecorderMetrics = {
    rotationsTotal: new Counter({
      name: 'caracal_rotation_rotations_total',
      help: 'Rotations that reached a terminal event (completed, failed, rejected), as projected by this recorder replica.',
      labelNames: ['material', 'outcome'] as const,
      registers,
    }),
    stepAge: new Gauge({
      name: 'caracal_rotation_step_age_seconds',
      help: 'Per material and state, seconds the oldest rotation in flight has spent since its last event (waiting_retirement: seconds past the end of its safety window, i.e. time blocked by the drain gate).',
      labelNames: ['material', 'state'] as const,
      registers,
    }),
    maxAge: new Gauge({
      name: 'caracal_rotation_material_max_age_seconds',
      help: "The catalog's rotation policy: the age after which the material is rotated on schedule.",
      labelNames: ['material'] as const,
      registers,
    }),
    policyRequestsTotal: new Counter({
      name: 'caracal_rotation_policy_requests_total',
      help: 'Rotation requests emitted by the policy scheduler because the material was older than its max age.',
      labelNames: ['material'] as const,
      registers,
    }),
  };
  // Series exist from the start at 0, so increase() sees the first failure after a restart.
  for (const material of MATERIALS) {
    for (const outcome of ROTATION_OUTCOMES) m.rotationsTotal.inc({ material, outcome }, 0);
  }
  for (const entry of catalog.materials) {
    if (entry.max_age_ms === undefined) continue;
    m.maxAge.set({ material: entry.material }, entry.max_age_ms / 1000);
    m.policyRequestsTotal.inc({ material: entry.material }, 0);
  }
  return m;
}
