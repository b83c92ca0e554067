import { commonServiceSchema, csv } from '@caracal-rotation/config';
import { z } from 'zod';

export const secretWriterConfigSchema = commonServiceSchema.extend({
  /** Agent workspace roots: the writer refuses a secrets directory inside one. */
  CARACAL_WORKSPACE_ROOTS: csv(),
  /** Holders file: where zone keys, Postgres roles and the Redis ACL user live (optional: files only without it). */
  CARACAL_HOLDERS: z.string().optional(),
});
export type SecretWriterConfig = z.infer<typeof secretWriterConfigSchema>;
