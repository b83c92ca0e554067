import { commonServiceSchema, durationMs, optionalDatabaseUrl, positiveInt } from '@caracal-rotation/config';
import { z } from 'zod';

export const rollerConfigSchema = commonServiceSchema.extend({
  CARACAL_HOLDERS: z.string().min(1, 'path of the holders file').describe('The holders file: where each holder runs, how to restart it and how to prove the restart.'),
  ROLL_POLL_MS: durationMs(200).describe("Pause between two looks at a holder's /ready or at its platform's restart proof."),
  ROLL_RESTART_ATTEMPTS: positiveInt(2).describe('Restarts of one holder tried before it counts as failed.'),
  SWITCH_DRAIN_TIMEOUT_MS: durationMs('2m').describe(
    "Before restarting the holders of a key that signs Caracal's stream messages, how long to wait for Caracal's consumers to read what was already published (the catalog's drain_before_switch); the switch then goes ahead and the rolled event says what was still pending.",
  ),
  SWITCH_DRAIN_ABANDON_AFTER_MS: durationMs('10m').describe('A group whose consumers have all been idle this long (or that has none) is not waited for before the switch.'),
  CLAIM_IDLE_MS: durationMs(120_000).describe('Rolling several holders takes a while: entries are claimed from a dead roller only after this long.'),
  DATABASE_URL: optionalDatabaseUrl().describe("The recorder's projection, read to refuse replays of events a rotation has moved past; unset, only de-duplication marks stop them."),
});
export type RollerConfig = z.infer<typeof rollerConfigSchema>;
