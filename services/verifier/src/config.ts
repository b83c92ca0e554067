import { commonServiceSchema, durationMs } from '@caracal-rotation/config';
import { z } from 'zod';

export const verifierConfigSchema = commonServiceSchema.extend({
  /** JSON file: where each holder runs (the checks talk to them). */
  CARACAL_HOLDERS: z.string().min(1, 'path of the holders file'),
  /** How long one check waits for the fleet to show the expected outcome. */
  CHECK_TIMEOUT_MS: durationMs(10_000),
  CHECK_POLL_MS: durationMs(50),
  /** How long a baseline result answers for rotations that restarted no holder. */
  BASELINE_SHARE_MS: durationMs(2_000),
  /** A verification runs many checks; claim only entries idle longer than that. */
  CLAIM_IDLE_MS: durationMs(120_000),
});
export type VerifierConfig = z.infer<typeof verifierConfigSchema>;
