import { z } from 'zod';
import { MATERIALS } from './materials.js';
import { planSchema } from './plan.js';
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
export const roleSchema = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lowercase Postgres role name');
export const kidSchema = z.string().min(1).max(128);
export const PHASES = ['stage', 'deploy', 'retire', 'rollback'] as const;
export const phaseSchema = z.enum(PHASES);
export type Phase = z.infer<typeof phaseSchema>;

/**
 * What an operator may ask for. The planner validates this strictly and
 * answers a violation on `rejected`; the bus only insists on a JSON object.
 */
export const requestedDataSchema = z
  .object({
    material: z.string().min(1).max(64),
    zone_id: zoneIdSchema.optional(),
    zone_ids: z.array(zoneIdSchema).min(1).max(100_000).optional(),
    role: roleSchema.optional(),
    reason: printable(500).min(1, 'a reason is required'),
    actor: printable(200).min(1, 'an actor is required'),
    ticket: printable(200).optional(),
    emergency: z.boolean().optional(),
    dry_run: z.boolean().optional(),
  })
  .strict();
export type RequestedData = z.infer<typeof requestedDataSchema>;

const subject = {
  material,
  zone_id: zoneIdSchema.optional(),
  role: roleSchema.optional(),
  batch_id: z.uuid().optional(),
};

export const queuedDataSchema = z.object({ ...subject, waiting_for: material, position: z.number().int().min(1) });

export const plannedDataSchema = z.object({ ...subject, plan: planSchema });

export const REJECTION_CODES = [
  'unknown_material',
  'invalid_request',
  'duplicate_in_flight',
  'unsafe_store',
  'material_missing',
  'unknown_zone',
  'not_rollbackable',
] as const;
export const rejectedDataSchema = z.object({
  material: z.string().max(64),
  zone_id: z.string().max(128).optional(),
  batch_id: z.uuid().optional(),
  reason_code: z.enum(REJECTION_CODES),
  message: z.string().max(2000),
});

export const materialRefSchema = z.object({ kid: kidSchema, location: z.string().max(1024) });
const previousRefSchema = z.object({ kid: kidSchema });

/**
 * Everything a later stage needs travels with the event, so each stage is a
 * pure function of its input and can be retried anywhere.
 */
const carried = {
  ...subject,
  plan: planSchema,
  new: materialRefSchema,
  previous: previousRefSchema.optional(),
};

export const writtenDataSchema = z.object({
  phase: phaseSchema,
  ...carried,
  /** False when the phase had nothing to change (retire of a no-overlap material). */
  changed: z.boolean(),
});

export const holderRollSchema = z.object({
  service: z.string(),
  restarted_at: z.string().nullable(),
  ready_at: z.string().nullable(),
  attempts: z.number().int().min(0),
  ok: z.boolean(),
  error: z.string().max(2000).optional(),
  /** What proves the restart: the process identity before and after. */
  proof: z.object({ before: z.string().nullable(), after: z.string().nullable() }).optional(),
});
export type HolderRoll = z.infer<typeof holderRollSchema>;
export const rolledDataSchema = z.object({ phase: phaseSchema, ...carried, holders: z.array(holderRollSchema) });

export const checkResultSchema = z.object({
  name: z.string(),
  ok: z.boolean(),
  detail: z.string().max(4000),
  duration_ms: z.number().min(0),
});
export type CheckResult = z.infer<typeof checkResultSchema>;
export const verifiedDataSchema = z.object({
  phase: phaseSchema,
  ...carried,
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
});
export const retiringDataSchema = z.object({ ...carried, drain: z.array(drainEvidenceSchema), window_ended_at: z.string() });

export const completedDataSchema = z.object({
  ...subject,
  new_kid: kidSchema,
  previous_kid: kidSchema.nullable(),
  completed_at: z.string(),
});

export const failedDataSchema = z.object({
  material: z.string().max(64),
  zone_id: z.string().max(128).optional(),
  role: roleSchema.optional(),
  batch_id: z.uuid().optional(),
  stage: z.string(),
  phase: phaseSchema,
  error: z.string().max(4000),
  rolled_back: z.boolean(),
  diagnosis: z.string().max(4000).optional(),
});

export const EVENT_DATA_SCHEMAS = {
  requested: requestedDataSchema,
  queued: queuedDataSchema,
  planned: plannedDataSchema,
  rejected: rejectedDataSchema,
  written: writtenDataSchema,
  rolled: rolledDataSchema,
  verified: verifiedDataSchema,
  retiring: retiringDataSchema,
  completed: completedDataSchema,
  failed: failedDataSchema,
} as const satisfies Record<EventName, z.ZodType>;

export type EventData = { [K in EventName]: z.infer<(typeof EVENT_DATA_SCHEMAS)[K]> };
export type QueuedData = EventData['queued'];
export type PlannedData = EventData['planned'];
export type RejectedData = EventData['rejected'];
export type WrittenData = EventData['written'];
export type RolledData = EventData['rolled'];
export type VerifiedData = EventData['verified'];
export type RetiringData = EventData['retiring'];
export type CompletedData = EventData['completed'];
export type FailedData = EventData['failed'];
export type RejectionCode = (typeof REJECTION_CODES)[number];
