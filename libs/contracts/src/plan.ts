import { z } from 'zod';
import { checkNameSchema } from './checks.js';
import { MATERIALS } from './materials.js';

export const OVERLAP_MODES = ['dual', 'none'] as const;
export const WRITERS = ['file', 'sts-zone-key', 'postgres-role', 'redis-password'] as const;
export const FORMATS = ['key32', 'kek32', 'token32', 'password24', 'es256'] as const;
/** What a rollback does: put the old value back, write a fresh one (the holder revoked the old), or nothing is possible. */
export const ROLLBACK_MODES = ['restore', 'forward', 'none'] as const;
/** Where a file material lives: Caracal's secret store, or the orchestrator's own directory (its bus key). */
export const STORES = ['caracal', 'rotation'] as const;
export const PHASES = ['stage', 'deploy', 'retire', 'rollback'] as const;
export const phaseSchema = z.enum(PHASES);
export type Phase = z.infer<typeof phaseSchema>;

export const holderStepSchema = z.object({
  service: z.string().min(1),
  /** Holders with the same roll group restart together; groups roll in ascending order. */
  roll_group: z.number().int().min(0),
});
export type HolderStep = z.infer<typeof holderStepSchema>;

export const drainPairSchema = z.object({
  stream: z.string().min(1),
  /** A group name, or `*` for every group of the stream. Stream may end in `*` (prefix). */
  group: z.string().min(1),
});
export type DrainPair = z.infer<typeof drainPairSchema>;

/** One phase of a plan: what the secret-writer, the roller and the verifier do in it. */
export const phaseStepsSchema = z.object({
  phase: phaseSchema,
  /** Whether the secret-writer changes anything (a single-value material's retire changes nothing). */
  write: z.boolean(),
  /** Services to restart: each inner list restarts together, the lists one after another. */
  roll: z.array(z.array(z.string().min(1))),
  checks: z.array(checkNameSchema),
});
export type PhaseSteps = z.infer<typeof phaseStepsSchema>;

/** Something the plan leaves out, and why (a check whose service the holders file does not list, a holder nobody restarts). */
export const skippedSchema = z.object({ what: z.string(), why: z.string() });

/**
 * What the planner decided for one rotation (or one batch of zone
 * rotations). Stored once in Redis and referenced by id and hash from every
 * event; every stage acts on it and never re-derives it.
 */
export const planSchema = z.object({
  version: z.literal(2),
  material: z.enum(MATERIALS),
  zone_id: z.string().optional(),
  /** A batch of zone rotations: how many zones, or every zone Caracal's API lists. */
  batch: z.object({ zones: z.union([z.number().int().min(1), z.literal('all')]) }).optional(),
  role: z.string().optional(),
  format: z.enum(FORMATS),
  overlap: z.enum(OVERLAP_MODES),
  writer: z.enum(WRITERS),
  store: z.enum(STORES),
  secret: z.object({ env: z.string(), file: z.string(), previous_file: z.string().nullable(), previous_at_rest: z.enum(['copy', 'absent']) }).nullable(),
  /** Derived files the writer re-renders (database and Redis URLs); names only. */
  derived: z.array(z.string()),
  /** stage? → deploy → retire, in order. */
  phases: z.array(phaseStepsSchema).min(2),
  rollback: z.object({ mode: z.enum(ROLLBACK_MODES), why: z.string(), steps: phaseStepsSchema }),
  safety_window_ms: z.number().int().min(0),
  window_parts: z.record(z.string(), z.number().int().min(0)).optional(),
  drain: z.array(drainPairSchema),
  /** Single-value STREAMS keys: Caracal's streams drain before the switch, since holders drop what the other key signed. */
  drain_before_switch: z.boolean(),
  emergency: z.boolean(),
  dry_run: z.boolean(),
  warnings: z.array(z.string()),
  skipped: z.array(skippedSchema),
  requested: z.object({ actor: z.string(), reason: z.string(), ticket: z.string().optional(), requested_at: z.string() }),
});
export type Plan = z.infer<typeof planSchema>;

/** How events name a stored plan: the signed hash authenticates what Redis holds. */
export const planRefSchema = z.object({ id: z.uuid(), hash: z.string().regex(/^[0-9a-f]{64}$/) });
export type PlanRef = z.infer<typeof planRefSchema>;
