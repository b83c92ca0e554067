import { z } from 'zod';
import { checkNameSchema } from './checks.js';
import { MATERIALS, type Material } from './materials.js';
import { drainPairSchema, FORMATS, holderStepSchema, OVERLAP_MODES, ROLLBACK_MODES, STORES, WRITERS } from './plan.js';

const storeFileName = z.string().regex(/^[A-Za-z{}]+$/, 'a secret name such as auditHmacKey ({role} for per-role material)');

/** A Postgres role of Caracal whose password rotates, and who holds it. */
export const databaseRoleSchema = z.object({
  /** The role's name in Postgres (Caracal: caracal<svc>; the admin role is caracal). */
  db_role: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/),
  holders: z.array(holderStepSchema),
});

/**
 * The material catalog: a versioned data file, defaults built in,
 * overridable by the operator through CARACAL_CATALOG. It says *what* each
 * material is; the holders file says *where* Caracal runs.
 */
export const catalogEntrySchema = z
  .object({
    material: z.enum(MATERIALS),
    /** Environment variable holders read (`NAME` / `NAME_FILE`). */
    env: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
    /** File name in the store; `{role}` is replaced for per-role material. Null when the material lives elsewhere (zone keys live in the STS). */
    file: storeFileName.nullable(),
    format: z.enum(FORMATS),
    overlap: z.enum(OVERLAP_MODES),
    writer: z.enum(WRITERS),
    store: z.enum(STORES).default('caracal'),
    /**
     * Dual overlap: what the `Previous` file holds outside a rotation. `copy`
     * (the current value) where a holder is wired to read it permanently (a
     * missing *_FILE is fatal to Caracal), `absent` otherwise.
     */
    previous_at_rest: z.enum(['copy', 'absent']).default('absent'),
    /** What a request must name besides the material. */
    needs: z.enum(['nothing', 'zone', 'role']).default('nothing'),
    holders: z.array(holderStepSchema),
    /** Per-role holders and Postgres role names, for POSTGRES_PASSWORD. */
    roles: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/), databaseRoleSchema).optional(),
    rollback: z.enum(ROLLBACK_MODES),
    /** Why rollback works the way it does (shown by `caracal-rotate plan`). */
    rollback_why: z.string().min(1),
    checks: z.object({ deploy: z.array(checkNameSchema), retire: z.array(checkNameSchema) }),
    /** Derived files the writer re-renders, e.g. `{role}DatabaseUrl`. */
    derived: z.array(storeFileName).default([]),
    /** Time between a passing deploy verification and retirement: the rollback window. */
    safety_window_ms: z.number().int().min(0),
    /** Where the window comes from (summed when given). */
    window_parts: z.record(z.string(), z.number().int().min(0)).optional(),
    drain: z.array(drainPairSchema).default([]),
    /** Drain Caracal's streams before the switch (a single-value stream key). */
    drain_before_switch: z.boolean().default(false),
    /** What the operator must know before the rotation runs. */
    warnings: z.array(z.string()).default([]),
    /** Rotation policy: a scheduled request is emitted once material is older. */
    max_age_ms: z.number().int().positive().optional(),
  })
  .strict();
export type CatalogEntry = z.infer<typeof catalogEntrySchema>;

export const catalogSchema = z
  .object({
    version: z.literal(2),
    materials: z.array(catalogEntrySchema),
  })
  .strict()
  .superRefine((catalog, ctx) => {
    const seen = new Set<string>();
    for (const [i, entry] of catalog.materials.entries()) {
      const at = (field: string) => ['materials', i, field];
      if (seen.has(entry.material)) ctx.addIssue({ code: 'custom', path: at('material'), message: `${entry.material} appears twice` });
      seen.add(entry.material);
      if (entry.writer === 'file' && entry.file === null) ctx.addIssue({ code: 'custom', path: at('file'), message: 'a file writer needs a file name' });
      if (entry.needs === 'role' && !entry.roles) ctx.addIssue({ code: 'custom', path: at('roles'), message: 'per-role material needs its roles' });
      if (entry.overlap === 'dual' && entry.writer === 'file' && entry.rollback === 'forward') {
        ctx.addIssue({ code: 'custom', path: at('rollback'), message: 'a dual-overlap file is restored, not rolled forward' });
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
