import { commonServiceSchema, durationMs, optionalDatabaseUrl, positiveInt } from '@caracal-rotation/config';
import { secretStoreConfigSchema } from '@caracal-rotation/secrets';
import { z } from 'zod';

export const verifierConfigSchema = commonServiceSchema
  .extend(secretStoreConfigSchema.shape)
  .extend({
    CARACAL_HOLDERS: z.string().min(1, 'path of the holders file').describe("The holders file: where each Caracal service runs, its counters' bearer, Postgres, Redis and the re-seal job."),
    CHECK_TIMEOUT_MS: durationMs(20_000).describe('The bound of one probe check: it polls Caracal until then, and fails after.'),
    LONG_CHECK_TIMEOUT_MS: durationMs(15 * 60_000).describe("The bound of the checks that walk all of Caracal's data (the re-seal job, every zone's JWKS)."),
    CHECK_POLL_MS: durationMs(100).describe('Pause between two tries of a probe.'),
    BASELINE_SHARE_MS: durationMs(30_000).describe("How long one run of the baseline checks (the fleet's health) serves the other zones of a batch in the same phase; 0 runs it for every zone."),
    ZONE_SWEEP_CONCURRENCY: positiveInt(8).describe('Zones whose JWKS are read at once by kek_zone_keys_open.'),
    CLAIM_IDLE_MS: durationMs(120_000).describe("A live check renews its claim; this is how long a dead verifier's entry waits for another replica."),
    DATABASE_URL: optionalDatabaseUrl().describe("The recorder's projection, read to refuse replays of events a rotation has moved past; unset, only de-duplication marks stop them."),
  });
export type VerifierConfig = z.infer<typeof verifierConfigSchema>;
