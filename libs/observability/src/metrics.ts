import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Outcome label of `caracal_rotation_events_total`. */
export type EventOutcome = 'ok' | 'dead_letter' | 'retry' | 'duplicate';

/** Seconds, from 1 ms to 60 s: handlers take milliseconds, rolls and checks take seconds. */
export const STAGE_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];

export interface Metrics {
  registry: Registry;
  stageDuration: Histogram<'stage' | 'phase' | 'outcome'>;
  eventsTotal: Counter<'stream' | 'outcome'>;
  deadLettersTotal: Counter<'stream' | 'reason'>;
  signatureFailuresTotal: Counter<'stream' | 'reason'>;
  pendingEntries: Gauge<'stream' | 'group'>;
  groupLag: Gauge<'stream' | 'group'>;
  dlqSize: Gauge<'stream'>;
  inProgress: Gauge<'material'>;
  materialAge: Gauge<'material' | 'zone'>;
}

/**
 * A registry of its own (labelled `service`, with Node's default metrics) and
 * every metric family of the project, created once. Services set what they use.
 */
export function createMetrics(service: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    stageDuration: new Histogram({
      name: 'caracal_rotation_stage_duration_seconds',
      help: 'Time a stage spent on one rotation step.',
      labelNames: ['stage', 'phase', 'outcome'] as const,
      buckets: STAGE_DURATION_BUCKETS,
      registers,
    }),
    eventsTotal: new Counter({
      name: 'caracal_rotation_events_total',
      help: 'Stream entries handled, by outcome (ok, dead_letter, retry, duplicate).',
      labelNames: ['stream', 'outcome'] as const,
      registers,
    }),
    deadLettersTotal: new Counter({
      name: 'caracal_rotation_dead_letters_total',
      help: 'Entries sent to a dead letter stream, by reason.',
      labelNames: ['stream', 'reason'] as const,
      registers,
    }),
    signatureFailuresTotal: new Counter({
      name: 'caracal_rotation_signature_failures_total',
      help: 'Entries refused for a bad signature or an unknown kid.',
      labelNames: ['stream', 'reason'] as const,
      registers,
    }),
    pendingEntries: new Gauge({
      name: 'caracal_rotation_pending_entries',
      help: 'Entries delivered to a consumer group and not yet acknowledged.',
      labelNames: ['stream', 'group'] as const,
      registers,
    }),
    groupLag: new Gauge({
      name: 'caracal_rotation_group_lag',
      help: 'Entries in the stream not yet delivered to the consumer group.',
      labelNames: ['stream', 'group'] as const,
      registers,
    }),
    dlqSize: new Gauge({
      name: 'caracal_rotation_dlq_entries',
      help: 'Entries in a dead letter stream.',
      labelNames: ['stream'] as const,
      registers,
    }),
    inProgress: new Gauge({
      name: 'caracal_rotation_in_progress',
      help: 'Rotations in progress.',
      labelNames: ['material'] as const,
      registers,
    }),
    materialAge: new Gauge({
      name: 'caracal_rotation_material_age_seconds',
      help: 'Age of the current material.',
      labelNames: ['material', 'zone'] as const,
      registers,
    }),
  };
}
