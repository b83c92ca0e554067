import { z } from 'zod';
import { checkNameSchema } from './checks.js';
import { MATERIALS } from './materials.js';

export const OVERLAP_MODES = ['dual', 'none'] as const;
export const WRITERS = ['file', 'sts-zone-key', 'postgres-role', 'redis-acl'] as const;
export const FORMATS = ['key32', 'kek32', 'token32', 'password24', 'es256'] as const;

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

export const secretFileSchema = z.object({
  env: z.string(),
  file: z.string(),
  previous_file: z.string(),
});

/** What the planner decided for one rotation. Every later stage acts on this alone. */
export const planSchema = z.object({
  material: z.enum(MATERIALS),
  zone_id: z.string().optional(),
  role: z.string().optional(),
  format: z.enum(FORMATS),
  overlap: z.enum(OVERLAP_MODES),
  writer: z.enum(WRITERS),
  secret: secretFileSchema.nullable(),
  /** Derived files re-rendered by the writer (e.g. database URLs); names only. */
  derived: z.array(z.string()).default([]),
  /**
   * `stage` first lets every holder accept the new material before any holder
   * uses it (dual overlap only), so no in-flight message is refused.
   */
  phases: z.array(z.enum(['stage', 'deploy', 'retire'])),
  holders: z.array(holderStepSchema),
  checks: z.object({
    stage: z.array(checkNameSchema).default([]),
    deploy: z.array(checkNameSchema),
    retire: z.array(checkNameSchema),
    rollback: z.array(checkNameSchema),
  }),
  safety_window_ms: z.number().int().min(0),
  drain: z.array(drainPairSchema),
  emergency: z.boolean(),
  dry_run: z.boolean(),
  warnings: z.array(z.string()),
  /** For overlap `none`: entries signed with the old key pending when planned. */
  old_key_pending: z.number().int().min(0).optional(),
  requested: z.object({
    actor: z.string(),
    reason: z.string(),
    ticket: z.string().optional(),
    requested_at: z.string(),
  }),
});
export type Plan = z.infer<typeof planSchema>;
