import { commonServiceSchema, durationMs, positiveInt } from '@caracal-rotation/config';
import { z } from 'zod';

export const rollerConfigSchema = commonServiceSchema.extend({
  /** JSON file: where each holder runs and how to restart it. */
  CARACAL_HOLDERS: z.string().min(1, 'path of the holders file'),
  ROLL_POLL_MS: durationMs(200),
  ROLL_RESTART_ATTEMPTS: positiveInt(2),
  /** Rolling several holders takes a while: claim only entries idle longer than that. */
  CLAIM_IDLE_MS: durationMs(120_000),
});
export type RollerConfig = z.infer<typeof rollerConfigSchema>;
