import { z } from 'zod';
import { MATERIALS } from './materials.js';
import { phaseSchema, planRefSchema } from './plan.js';
import type { EventName } from './streams.js';

const material = z.enum(MATERIALS);
const printable = (max: number) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    .regex(/^[^\u0000-\u001f\u007f]*$/, 'control characters are not allowed');
export const zoneIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^(\*|[A-Za-z0-9][A-Za-z0-9_.:-]*)$/, 'letters, digits, _ . : - (or * for every zone)');
export const roleSchema = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lowercase role name');
export const kidSchema = z.string().min(1).max(128);
export { phaseSchema, type Phase } from './plan.js';

/** At most this many zones may be named in one request; `zone_id: "*"` has no limit. */
export const MAX_REQUEST_ZONES = 100_000;

/**
 * What an operator may ask for. The actor is not part of it: the planner
 * records the operator whose key signed the request. The planner validates
 * strictly and answers a violation on `rejected`.
 */
export const requestedDataSchema = z
  .object({
    material: z.string().min(1).max(64),
    zone_id: zoneIdSchema.optional(),
    zone_ids: z.array(zoneIdSchema).min(1).max(MAX_REQUEST_ZONES).optional(),
    role: roleSchema.optional(),
    reason: printable(500).min(1, 'a reason is required'),
    ticket: printable(200).optional(),
    emergency: z.boolean().optional(),
    dry_run: z.boolean().optional(),
  })
  .strict();
export type RequestedData = z.infer<typeof requestedDataSchema>;

export const INTENT_ACTIONS = ['rollback', 'abandon'] as const;
export type IntentAction = (typeof INTENT_ACTIONS)[number];
/** An operator's intent about an existing rotation; the envelope's rotation_id names it. */
export const intentDataSchema = z
  .object({
    action: z.enum(INTENT_ACTIONS),
    reason: printable(500).min(1, 'a reason is required'),
    ticket: printable(200).optional(),
  })
  .strict();

const subject = {
  material,
  zone_id: zoneIdSchema.optional(),
  role: roleSchema.optional(),
  batch_id: z.uuid().optional(),
};

/** `actor`: the operator the planner authenticated, known before the request is planned. */
export const queuedDataSchema = z.object({ ...subject, waiting_for: material, position: z.number().int().min(1), actor: z.string().max(200).optional() });

export const plannedDataSchema = z.object({
  ...subject,
  actor: z.string().max(200),
  plan: planRefSchema,
  dry_run: z.boolean(),
  /** On the request of a batch only: its children (one rotation per zone, each planned on its own) carry the work. */
  batch: z.object({ zones: z.union([z.number().int().min(0), z.literal('all')]) }).optional(),
});

export const REJECTION_CODES = [
  'unknown_material',
  'invalid_request',
  'unauthorized',
  'duplicate_in_flight',
  'unsafe_store',
  'material_missing',
  'unknown_zone',
  'recently_rotated',
  'not_rollbackable',
  'not_abandonable',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];
export const rejectedDataSchema = z.object({
  material: z.string().max(64),
  zone_id: z.string().max(128).optional(),
  batch_id: z.uuid().optional(),
  /** Set when an intent was refused: the rotation itself goes on unchanged. */
  intent: z.enum(INTENT_ACTIONS).optional(),
  actor: z.string().max(200).optional(),
  reason_code: z.enum(REJECTION_CODES),
  message: z.string().max(2000),
});

/** The planner approved an operator's rollback: the secret-writer acts on it. */
export const rollbackDataSchema = z.object({ ...subject, plan: planRefSchema, actor: z.string().max(200), reason: z.string().max(500), ticket: z.string().max(200).optional() });

/** An operator gave up on a rotation; the lock and any queue entry are freed. Terminal. */
export const abandonedDataSchema = z.object({
  material: material.optional(),
  zone_id: zoneIdSchema.optional(),
  batch_id: z.uuid().optional(),
  actor: z.string().max(200),
  reason: z.string().max(500),
  ticket: z.string().max(200).optional(),
  /** The state the rotation was in. */
  state: z.string().max(64),
});

export const materialRefSchema = z.object({ kid: kidSchema, location: z.string().max(1024) });
const previousRefSchema = z.object({ kid: kidSchema });
const stageInput = { ...subject, plan: planRefSchema };

export const writtenDataSchema = z.object({
  phase: phaseSchema,
  ...stageInput,
  new: materialRefSchema,
  previous: previousRefSchema.optional(),
  /** False when the phase had nothing to change. */
  changed: z.boolean(),
});

export const holderRollSchema = z.object({
  service: z.string(),
  ok: z.boolean(),
  restarted_at: z.string().nullable(),
  ready_at: z.string().nullable(),
  attempts: z.number().int().min(0),
  /** What the platform showed before and after the restart (container start time, pod UIDs, MainPID). */
  proof: z.object({ before: z.string().nullable(), after: z.string().nullable(), detail: z.string().max(1000) }).optional(),
  error: z.string().max(2000).optional(),
});
export type HolderRoll = z.infer<typeof holderRollSchema>;
/** `new` and `previous` are the written event's, carried for the verifier. */
/** What the roller waited for before a switch that must not lose messages in flight (the catalog's `drain_before_switch`). */
export const switchDrainSchema = z.object({
  waited_ms: z.number().int().min(0),
  pairs: z.number().int().min(0),
  drained: z.boolean(),
  /** Pairs still holding entries signed with the old value when the roller stopped waiting. */
  undrained: z.array(z.object({ stream: z.string().max(256), group: z.string().max(256), pending: z.number().int().min(0) })).max(100),
});
export const rolledDataSchema = z.object({
  phase: phaseSchema,
  ...stageInput,
  new: materialRefSchema.optional(),
  previous: previousRefSchema.optional(),
  holders: z.array(holderRollSchema),
  switch_drain: switchDrainSchema.optional(),
});

export const checkResultSchema = z.object({
  name: z.string(),
  ok: z.boolean(),
  detail: z.string().max(4000),
  duration_ms: z.number().min(0),
});
export type CheckResult = z.infer<typeof checkResultSchema>;
export const verifiedDataSchema = z.object({
  phase: phaseSchema,
  ...stageInput,
  ok: z.boolean(),
  checks: z.array(checkResultSchema),
  diagnosis: z.string().max(4000).optional(),
});

export const drainEvidenceSchema = z.object({
  stream: z.string(),
  group: z.string(),
  mark: z.string(),
  pending: z.number().int().min(0),
  lag: z.number().int().min(0).nullable(),
  /** No live consumer read the group for longer than the bound: it no longer holds retirement. */
  abandoned: z.boolean().optional(),
});
export const retiringDataSchema = z.object({ ...stageInput, drain: z.array(drainEvidenceSchema), window_ended_at: z.string() });

export const failedDataSchema = z.object({
  material: z.string().max(64).optional(),
  zone_id: z.string().max(128).optional(),
  role: roleSchema.optional(),
  batch_id: z.uuid().optional(),
  stage: z.string().max(64),
  phase: phaseSchema.optional(),
  error: z.string().max(4000),
  rolled_back: z.boolean(),
  /** The dead letter that ended the rotation, when its stage input could not be processed. */
  dead_letter: z.object({ stream: z.string(), entry_id: z.string(), reason: z.string() }).optional(),
  diagnosis: z.string().max(4000).optional(),
});

export const completedDataSchema = z.object({
  ...subject,
  new_kid: kidSchema,
  previous_kid: kidSchema.nullable(),
  completed_at: z.string(),
});

export const EVENT_DATA_SCHEMAS = {
  requested: requestedDataSchema,
  intent: intentDataSchema,
  queued: queuedDataSchema,
  planned: plannedDataSchema,
  rejected: rejectedDataSchema,
  rollback: rollbackDataSchema,
  abandoned: abandonedDataSchema,
  written: writtenDataSchema,
  rolled: rolledDataSchema,
  verified: verifiedDataSchema,
  retiring: retiringDataSchema,
  failed: failedDataSchema,
  completed: completedDataSchema,
} as const satisfies Record<EventName, z.ZodType>;

export type EventData = { [K in EventName]: z.infer<(typeof EVENT_DATA_SCHEMAS)[K]> };
export type IntentData = EventData['intent'];
export type QueuedData = EventData['queued'];
export type PlannedData = EventData['planned'];
export type RejectedData = EventData['rejected'];
export type RollbackData = EventData['rollback'];
export type AbandonedData = EventData['abandoned'];
export type WrittenData = EventData['written'];
export type RolledData = EventData['rolled'];
export type VerifiedData = EventData['verified'];
export type RetiringData = EventData['retiring'];
export type FailedData = EventData['failed'];
export type CompletedData = EventData['completed'];
