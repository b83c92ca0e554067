import { commonServiceSchema, csv } from '@caracal-rotation/config';
import type { z } from 'zod';

export const secretWriterConfigSchema = commonServiceSchema.extend({
  /** Agent workspace roots: the writer refuses a secrets directory inside one. */
  CARACAL_WORKSPACE_ROOTS: csv(),
});
export type SecretWriterConfig = z.infer<typeof secretWriterConfigSchema>;
