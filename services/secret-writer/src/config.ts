import { commonServiceSchema } from '@caracal-rotation/config';
import { secretStoreConfigSchema } from '@caracal-rotation/secrets';
import { z } from 'zod';

export const secretWriterConfigSchema = commonServiceSchema.extend(secretStoreConfigSchema.shape).extend({
  CARACAL_HOLDERS: z.string().min(1, 'the holders file is required').describe("The holders file: where the STS, Caracal's Postgres and Redis are (zone keys, passwords)."),
});
export type SecretWriterConfig = z.infer<typeof secretWriterConfigSchema>;
