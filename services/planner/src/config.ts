import { commonServiceSchema, csv, positiveInt } from '@caracal-rotation/config';
import { z } from 'zod';

export const plannerConfigSchema = commonServiceSchema.extend({
  /** Namespace of Caracal's own stream names (empty in production). */
  CARACAL_NAMESPACE: z.string().default(''),
  /** Agent workspace roots: a secrets directory inside one is refused. */
  CARACAL_WORKSPACE_ROOTS: csv(),
  /** The STS zone directory that expands `zone_id: "*"` (GET → {zones: [...]}). */
  ZONE_DIRECTORY_URL: z.string().url().optional(),
  /** File with the bearer token of the zone directory (STS_ADMIN_TOKEN). */
  ZONE_DIRECTORY_TOKEN_FILE: z.string().optional(),
  /** One request at a time keeps the class queue first-in, first-out. */
  MAX_IN_FLIGHT: positiveInt(1),
});
export type PlannerConfig = z.infer<typeof plannerConfigSchema>;
