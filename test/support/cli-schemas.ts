import { z } from 'zod';

/**
 * The JSON documents `caracal-rotate … --json` prints, one schema per
 * command: what scripts and dashboards may rely on. Objects are open (extra
 * fields may be added); the listed ones are the contract.
 */
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO timestamp');
const state = z.enum(['requested', 'queued', 'planned', 'deploying', 'rolling', 'verifying', 'waiting_retirement', 'retiring', 'completed', 'rolling_back', 'failed', 'rejected', 'abandoned']);
const outcome = z.enum(['completed', 'failed', 'rejected', 'abandoned', 'dead_lettered', 'timeout', 'planned']);

/** The projection's rotation record (libs/projection RotationRecord), as lists show it (without the plan). */
export const rotationRecordSchema = z.object({
  rotationId: uuid,
  batchId: uuid.nullable(),
  material: z.string().nullable(),
  zoneId: z.string().nullable(),
  role: z.string().nullable(),
  state,
  phase: z.string().nullable(),
  actor: z.string().nullable(),
  reason: z.string().nullable(),
  emergency: z.boolean(),
  dryRun: z.boolean(),
  requestedAt: iso.nullable(),
  completedAt: iso.nullable(),
  newKid: z.string().nullable(),
  previousKid: z.string().nullable(),
  retireAfter: iso.nullable(),
  failure: z.string().nullable(),
  rolledBack: z.boolean(),
  updatedAt: iso,
});

const drainRow = z.object({ stream: z.string(), group: z.string(), pending: z.number().int().min(0), lag: z.number().int().nullable(), last_delivered_id: z.string() });

const timelineEntry = z.object({
  type: z.string(),
  rotation_id: uuid,
  event_id: z.string().nullable(),
  occurred_at: z.string(),
  elapsed_ms: z.number().min(0),
  stage_ms: z.number().min(0),
  stage: z.string(),
  summary: z.string(),
  data: z.record(z.string(), z.unknown()),
});

export const errorSchema = z.object({ error: z.string().min(1), code: z.number().int() });

export const requestSchema = z.object({
  rotation_id: uuid,
  stream: z.string(),
  request: z.object({ material: z.string(), reason: z.string(), actor: z.string() }).loose(),
});

export const followSchema = z.object({ rotation_id: uuid, outcome, exit_code: z.number().int(), events: z.array(timelineEntry) });
export const requestWaitSchema = followSchema.extend({ request: requestSchema.shape.request });

const planSchema = z
  .object({
    material: z.string(),
    overlap: z.enum(['dual', 'none']),
    phases: z.array(z.string()),
    holders: z.array(z.object({ service: z.string(), roll_group: z.number() })),
    checks: z.object({ deploy: z.array(z.string()), retire: z.array(z.string()), rollback: z.array(z.string()) }).loose(),
    safety_window_ms: z.number(),
    drain: z.array(z.object({ stream: z.string(), group: z.string() })),
    warnings: z.array(z.string()),
  })
  .loose();

export const planOkSchema = z.object({
  ok: z.literal(true),
  material: z.string(),
  catalog: z.string(),
  rotations: z.number().int().min(1),
  plans: z.array(planSchema).min(1),
  drain: z.object({ inspected: z.boolean(), targets: z.array(drainRow) }).loose(),
});
export const planRejectedSchema = z.object({ ok: z.literal(false), material: z.string(), reason_code: z.string(), message: z.string() });

export const statusOverviewSchema = z.object({
  materials: z.array(
    z.object({
      material: z.string(),
      zoneId: z.string().nullable(),
      role: z.string().nullable(),
      latestRotationId: uuid,
      latestState: state,
      currentKid: z.string().nullable(),
      materialAgeSeconds: z.number().nullable(),
    }).loose(),
  ),
  never_rotated: z.array(z.string()),
  in_flight: z.array(rotationRecordSchema.loose()),
});

export const statusDetailSchema = z.object({
  rotation: rotationRecordSchema.extend({ plan: z.unknown() }).loose(),
  members: z.array(rotationRecordSchema.loose()),
  timeline: z.array(timelineEntry),
  checks: z.array(z.object({ phase: z.string(), name: z.string(), ok: z.boolean(), detail: z.string(), durationMs: z.number() }).loose()),
  drains: z.array(z.object({ stream: z.string(), group: z.string(), mark: z.string(), drained: z.boolean() }).loose()),
});

export const listSchema = z.object({ rotations: z.array(rotationRecordSchema.loose()) });

export const rollbackSchema = z.object({
  rotation_id: uuid,
  action: z.literal('rollback'),
  event_id: uuid,
  stream: z.string(),
  entry_id: z.string(),
  actor: z.string(),
  reason: z.string(),
  window_ends_at: iso,
  restores_kid: z.string().nullable(),
});

export const abandonSchema = z.object({
  rotation_id: uuid,
  action: z.literal('abandon'),
  event_id: uuid,
  stream: z.string(),
  entry_id: z.string(),
  previous_state: state,
  phase: z.string(),
  lock_released_for: z.string(),
  secrets_touched: z.literal(false),
  needs_human: z.literal(true),
  secret_files: z.array(z.string()),
});

export const catalogSchema = z.object({
  source: z.string(),
  catalog: z.object({
    version: z.literal(1),
    materials: z.array(z.object({ material: z.string(), env: z.string(), overlap: z.string(), writer: z.string(), safety_window_ms: z.number() }).loose()).min(1),
  }),
});

export const drainSchema = z.object({ patterns: z.array(z.object({ stream: z.string(), group: z.string() })), targets: z.array(drainRow) });
