import { MATERIALS, REJECTION_CODES } from '@caracal-rotation/contracts';
import { ROTATION_STATES } from '@caracal-rotation/lifecycle';
import { z } from 'zod';

/**
 * The JSON documents `caracal-rotate … --json` prints, one schema per
 * command: what scripts and dashboards may rely on. Objects are open (fields
 * may be added); the listed ones are the contract.
 */
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO timestamp');
const state = z.enum(ROTATION_STATES);
const material = z.enum(MATERIALS);
const kid = z.string().regex(/^[0-9a-f]{16}$|^sha256:[0-9a-f]{16}$|^[0-9a-f-]{36}$/, 'a key id, never a value');
const outcome = z.enum(['completed', 'failed', 'rejected', 'abandoned', 'dead_lettered', 'timeout', 'planned']);

/** One row of the projection's `rotations` (libs/projection RotationRecord). */
export const rotationRecordSchema = z
  .object({
    rotation_id: uuid,
    batch_id: uuid.nullable(),
    material: material.nullable(),
    zone_id: z.string().nullable(),
    role: z.string().nullable(),
    state,
    progress: z.number().int(),
    phase: z.string().nullable(),
    actor: z.string().nullable(),
    reason: z.string().nullable(),
    ticket: z.string().nullable(),
    emergency: z.boolean(),
    dry_run: z.boolean(),
    batch_parent: z.boolean(),
    requested_at: iso.nullable(),
    completed_at: iso.nullable(),
    new_kid: kid.nullable(),
    previous_kid: kid.nullable(),
    secret_location: z.string().nullable(),
    retire_after: iso.nullable(),
    retired_at: iso.nullable(),
    failure: z.string().nullable(),
    diagnosis: z.string().nullable(),
    rolled_back: z.boolean(),
    plan_id: uuid.nullable(),
    created_at: iso,
    updated_at: iso,
  })
  .loose();

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

/** Every error with --json: one line on stderr. */
export const errorSchema = z.object({ error: z.string().min(1), code: z.number().int() });

export const versionSchema = z.object({ version: z.string().regex(/^\d+\.\d+\.\d+/) });

export const initSchema = z.object({ rotation_dir: z.string(), created: z.array(z.string()), kept: z.array(z.string()), notes: z.array(z.string()) });

/** The request as published: the signing key, not the request, says who asks. */
const requestData = z.object({ material: z.string(), reason: z.string() }).loose();

export const requestSchema = z.object({ rotation_id: uuid, stream: z.string(), request: requestData });

/** `watch` and `request --wait`: how the rotation ended, and every event seen on the way. */
export const followSchema = z.object({ rotation_id: uuid, outcome, exit_code: z.number().int(), events: z.array(timelineEntry) }).loose();
export const requestWaitSchema = followSchema.extend({ stream: z.string(), request: requestData });

const planSchema = z
  .object({
    version: z.number(),
    material,
    overlap: z.enum(['dual', 'none']),
    phases: z.array(z.object({ phase: z.string(), write: z.boolean(), roll: z.array(z.array(z.string())), checks: z.array(z.string()) })).min(1),
    rollback: z.object({ mode: z.enum(['restore', 'forward', 'none']), why: z.string() }).loose(),
    safety_window_ms: z.number(),
    drain: z.array(z.object({ stream: z.string(), group: z.string() })),
    warnings: z.array(z.string()),
    skipped: z.array(z.object({ what: z.string(), why: z.string() })),
  })
  .loose();

export const planOkSchema = z.object({
  ok: z.literal(true),
  material,
  catalog: z.string(),
  plan: planSchema,
  drain: z.object({ inspected: z.boolean(), targets: z.array(drainRow), note: z.string().optional() }),
});
export const planRejectedSchema = z.object({ ok: z.literal(false), material: z.string(), reason_code: z.enum(REJECTION_CODES), message: z.string() });

export const statusOverviewSchema = z.object({
  materials: z.array(
    z
      .object({
        material,
        zone_id: z.string().nullable(),
        role: z.string().nullable(),
        latest_rotation_id: uuid,
        latest_state: state,
        current_kid: kid.nullable(),
        material_age_seconds: z.number().nullable(),
      })
      .loose(),
  ),
  never_rotated: z.array(material),
  in_flight: z.array(rotationRecordSchema),
});

export const statusDetailSchema = z.object({
  rotation: rotationRecordSchema.extend({ plan: planSchema.nullable() }),
  path: z.array(z.object({ key: z.string(), label: z.string(), status: z.enum(['done', 'failed', 'current', 'pending']), at: z.string().nullable() }).loose()),
  members: z.array(rotationRecordSchema),
  timeline: z.array(timelineEntry),
  checks: z.array(z.object({ phase: z.string(), name: z.string(), ok: z.boolean(), detail: z.string(), duration_ms: z.number() }).loose()),
  drains: z.array(z.object({ stream: z.string(), group: z.string(), mark: z.string(), drained: z.boolean(), abandoned: z.boolean() }).loose()),
});

export const listSchema = z.object({ rotations: z.array(rotationRecordSchema) });

/** `rollback` and `abandon`: the decision the intent got. */
export const intentSchema = z.discriminatedUnion('outcome', [
  z.object({ rotation_id: uuid, action: z.enum(['rollback', 'abandon']), intent_event_id: uuid, outcome: z.literal('approved'), by: z.enum(['planner', 'secret-writer']), event_id: uuid }),
  z.object({ rotation_id: uuid, action: z.enum(['rollback', 'abandon']), intent_event_id: uuid, outcome: z.literal('abandoned'), event_id: uuid, state: z.string() }),
  z.object({ rotation_id: uuid, action: z.enum(['rollback', 'abandon']), intent_event_id: uuid, outcome: z.literal('refused'), by: z.enum(['planner', 'secret-writer']), code: z.enum(REJECTION_CODES), message: z.string() }),
  z.object({ rotation_id: uuid, action: z.enum(['rollback', 'abandon']), intent_event_id: uuid, outcome: z.literal('no_answer') }),
]);

export const catalogSchema = z.object({
  source: z.string(),
  catalog: z.object({
    version: z.number().int(),
    materials: z.array(z.object({ material, env: z.string(), overlap: z.string(), writer: z.string(), safety_window_ms: z.number() }).loose()).length(MATERIALS.length),
  }),
});

export const drainSchema = z.object({ patterns: z.array(z.object({ stream: z.string(), group: z.string() })), targets: z.array(drainRow) });
