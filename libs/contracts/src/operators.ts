import { z } from 'zod';
import { MATERIALS } from './materials.js';

/**
 * The operator registry (`operators.json` in the orchestrator's directory):
 * who may sign requests and intents, and what each operator may do. The
 * planner authenticates a request by its key id and records the operator's
 * name as the actor.
 */
export const operatorSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\u0000-\u001f\u007f]*$/, 'control characters are not allowed'),
    /** The operator's key file, relative to the orchestrator's directory (32 bytes, lowercase hex). */
    key_file: z
      .string()
      .min(1)
      .regex(/^(?!\/)(?!.*\.\.)[A-Za-z0-9_./-]+$/, 'a path inside the orchestrator directory'),
    /** Materials the operator may request; `*` for all. */
    materials: z.array(z.union([z.literal('*'), z.enum(MATERIALS)])).min(1),
    emergency: z.boolean().default(false),
    rollback: z.boolean().default(false),
    abandon: z.boolean().default(false),
  })
  .strict();
export type OperatorEntry = z.infer<typeof operatorSchema>;

export const operatorRegistrySchema = z
  .object({
    version: z.literal(1),
    operators: z.array(operatorSchema),
  })
  .strict()
  .superRefine((registry, ctx) => {
    const names = new Set<string>();
    for (const [i, op] of registry.operators.entries()) {
      if (names.has(op.name)) ctx.addIssue({ code: 'custom', path: ['operators', i, 'name'], message: `${op.name} appears twice` });
      names.add(op.name);
    }
  });
export type OperatorRegistry = z.infer<typeof operatorRegistrySchema>;

/** The actor recorded for requests the recorder's rotation policies make. */
export const SCHEDULE_ACTOR = 'schedule';
