import { MATERIALS, normalizeMaterial, type Catalog } from '@caracal-rotation/contracts';
import type { Metrics } from '@caracal-rotation/observability';
import { Counter, Gauge } from 'prom-client';

/** Terminal states counted by `caracal_rotation_rotations_total`. */
export const ROTATION_OUTCOMES = ['completed', 'failed', 'rejected', 'abandoned'] as const;
export type RotationOutcome = (typeof ROTATION_OUTCOMES)[number];

/**
 * The recorder's own metric families, registered in the runtime's registry
 * next to the shared ones of libs/observability (so one `/metrics` has both).
 * Label values are bounded: materials of the contract (anything else is
 * `unknown`), rotation states, event names, and the rotation streams and
 * drain groups.
 */
export interface RecorderMetrics {
  /** Rotations that reached a terminal state, by material and outcome (what the "rotation failed" alert counts). */
  rotationsTotal: Counter<'material' | 'outcome'>;
  /** Per material and state, how long the oldest rotation in flight has been there. */
  stepAge: Gauge<'material' | 'state'>;
  /** Rotations in flight, per material and state. */
  inFlight: Gauge<'material' | 'state'>;
  /** The catalog's rotation policy, so alerts can compare the material age with it. */
  maxAge: Gauge<'material'>;
  /** Requests the policy scheduler emitted. */
  policyRequestsTotal: Counter<'material'>;
  /** Events this replica projected (recorded), or found already recorded (duplicate). */
  projectedEvents: Counter<'type' | 'outcome'>;
  /** Seconds between an event occurring and its projection committing, for the last batch. */
  projectionLag: Gauge;
  /** Rotations past their rollback window that still wait for retirement. */
  retirementsDue: Gauge;
  /** Entries at or before the mark still pending, per drain group (the largest over the rotations it holds). */
  drainPending: Gauge<'stream' | 'group'>;
  /** Entries in each rotation stream. */
  streamLength: Gauge<'stream'>;
  /** Entries trimmed from the rotation streams after every group acknowledged them. */
  trimmedTotal: Counter<'stream'>;
}

/** A material name as a label value: canonical, or `unknown` (a request naming garbage must not create a series). */
export const materialLabel = (name: unknown): string => (typeof name === 'string' ? (normalizeMaterial(name) ?? 'unknown') : 'unknown');

export function createRecorderMetrics(metrics: Pick<Metrics, 'registry'>, catalog: Catalog): RecorderMetrics {
  const registers = [metrics.registry];
  const m: RecorderMetrics = {
    rotationsTotal: new Counter({
      name: 'caracal_rotation_rotations_total',
      help: 'Rotations that reached a terminal state (completed, failed, rejected, abandoned), as projected by this recorder replica.',
      labelNames: ['material', 'outcome'] as const,
      registers,
    }),
    stepAge: new Gauge({
      name: 'caracal_rotation_step_age_seconds',
      help: 'Per material and state, seconds the oldest rotation in flight has spent since its last event (waiting_retirement: seconds past the end of its rollback window, i.e. time blocked by the drain gate).',
      labelNames: ['material', 'state'] as const,
      registers,
    }),
    inFlight: new Gauge({
      name: 'caracal_rotation_in_flight',
      help: 'Rotations in flight, per material and state.',
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
    projectedEvents: new Counter({
      name: 'caracal_rotation_projected_events_total',
      help: 'Events this recorder replica projected into Postgres (recorded), or found already recorded (duplicate).',
      labelNames: ['type', 'outcome'] as const,
      registers,
    }),
    projectionLag: new Gauge({
      name: 'caracal_rotation_projection_lag_seconds',
      help: 'Seconds between the oldest event of the last projected batch occurring and the batch committing.',
      registers,
    }),
    retirementsDue: new Gauge({
      name: 'caracal_rotation_retirements_due',
      help: 'Rotations past the end of their rollback window that still wait for retirement (the drain gate, or the timer).',
      registers,
    }),
    drainPending: new Gauge({
      name: 'caracal_rotation_drain_pending',
      help: 'Entries at or before the drain mark still pending, per stream and group the retirement timer inspected.',
      labelNames: ['stream', 'group'] as const,
      registers,
    }),
    streamLength: new Gauge({
      name: 'caracal_rotation_stream_length',
      help: 'Entries in each rotation stream (after trimming what every group acknowledged).',
      labelNames: ['stream'] as const,
      registers,
    }),
    trimmedTotal: new Counter({
      name: 'caracal_rotation_trimmed_entries_total',
      help: 'Entries trimmed from the rotation streams once every consumer group had acknowledged them.',
      labelNames: ['stream'] as const,
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
