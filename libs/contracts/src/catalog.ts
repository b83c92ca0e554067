import { z } from 'zod';
import { checkNameSchema } from './checks.js';
import { MATERIALS, type Material } from './materials.js';
import { drainPairSchema, FORMATS, holderStepSchema, OVERLAP_MODES, WRITERS } from './plan.js';

/**
 * The material catalog (DESIGN §5): a versioned data file, defaults built in,
 * overridable by the operator through CARACAL_CATALOG.
 */
export const catalogEntrySchema = z
  .object({
    material: z.enum(MATERIALS),
    /** Environment variable holders read (`NAME` / `NAME_FILE`). */
    env: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
    /** File name in the secrets directory; `{role}` is replaced for per-role material. Null when the material lives elsewhere (zone keys live in the STS). */
    file: z.string().regex(/^[A-Za-z{}]+$/).nullable(),
    format: z.enum(FORMATS),
    overlap: z.enum(OVERLAP_MODES),
    writer: z.enum(WRITERS),
    /** What a request must name besides the material. */
    needs: z.enum(['nothing', 'zone', 'role']).default('nothing'),
    holders: z.array(holderStepSchema),
    /** Per-role holders for role-scoped material (Postgres passwords). */
    holders_by_role: z.record(z.string(), z.array(holderStepSchema)).optional(),
    checks: z.object({
      deploy: z.array(checkNameSchema),
      retire: z.array(checkNameSchema),
    }),
    /** Derived files the writer re-renders, e.g. `{role}DatabaseUrl`. */
    derived: z.array(z.string()).default([]),
    /** Time between a passing deploy verification and retirement. */
    safety_window_ms: z.number().int().min(0),
    /** Where the window comes from (documentation for operators; summed when given). */
    window_parts: z.record(z.string(), z.number().int().min(0)).optional(),
    drain: z.array(drainPairSchema).default([]),
    /** Rotation policy: a scheduled request is emitted once material is older. */
    max_age_ms: z.number().int().positive().optional(),
  })
  .strict();
export type CatalogEntry = z.infer<typeof catalogEntrySchema>;

export const catalogSchema = z
  .object({
    version: z.literal(1),
    materials: z.array(catalogEntrySchema),
  })
  .strict()
  .superRefine((catalog, ctx) => {
    const seen = new Set<string>();
    for (const [i, entry] of catalog.materials.entries()) {
      if (seen.has(entry.material)) {
        ctx.addIssue({ code: 'custom', path: ['materials', i, 'material'], message: `${entry.material} appears twice` });
      }
      seen.add(entry.material);
      if (entry.writer === 'file' && entry.file === null) {
        ctx.addIssue({ code: 'custom', path: ['materials', i, 'file'], message: 'a file writer needs a file name' });
      }
    }
  });
export type Catalog = z.infer<typeof catalogSchema>;

export function catalogEntry(catalog: Catalog, material: Material): CatalogEntry | undefined {
  return catalog.materials.find((m) => m.material === material);
}

/** The safety window of an entry: the sum of its parts where given. */
export function safetyWindowOf(entry: CatalogEntry): number {
  return entry.window_parts ? Object.values(entry.window_parts).reduce((a, b) => a + b, 0) : entry.safety_window_ms;
}
