import { z } from 'zod';

/**
 * Where each holder runs and how to restart it: the deployment side of the
 * catalog (which says *what* to roll). The roller and verifier read it from
 * CARACAL_HOLDERS.
 */
export const restartAdapterSchema = z.discriminatedUnion('adapter', [
  z.object({
    adapter: z.literal('http'),
    /** POSTed to restart the holder (a reload hook or a supervisor). */
    url: z.url(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
  z.object({
    adapter: z.literal('exec'),
    /** argv, run without a shell; `{service}` is replaced with the holder's name. */
    command: z.array(z.string()).min(1),
    /** Optional second command that waits for the restart to finish (e.g. `kubectl rollout status`). */
    wait: z.array(z.string()).min(1).optional(),
  }),
]);
export type RestartAdapter = z.infer<typeof restartAdapterSchema>;

export const holderSchema = z.object({
  /** Base URL of the holder: `/health` and `/ready` are read from it. */
  url: z.url(),
  restart: restartAdapterSchema,
  ready_timeout_ms: z.number().int().positive().default(30_000),
});
export type HolderConfig = z.infer<typeof holderSchema>;

export const holdersConfigSchema = z.object({
  version: z.literal(1),
  /** Namespace of Caracal's own stream names (empty in production). */
  caracal_namespace: z.string().default(''),
  holders: z.record(z.string(), holderSchema),
  /** Administrative connections for the postgres-role and redis-acl writers. */
  postgres_admin_url: z.string().optional(),
  redis_admin_url: z.string().optional(),
});
export type HoldersConfig = z.infer<typeof holdersConfigSchema>;
