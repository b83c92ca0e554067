import { commonServiceSchema, optionalDatabaseUrl, positiveInt } from '@caracal-rotation/config';
import { z } from 'zod';

export const plannerConfigSchema = commonServiceSchema.extend({
  CARACAL_HOLDERS: z.string().min(1, 'the holders file is required').describe('The holders file: which Caracal services exist, so a plan leaves out what the deployment lacks.'),
  CARACAL_ZONE_READER_TOKEN_FILE: z
    .string()
    .optional()
    .describe('A read-capability Caracal admin token (POST /v1/admin-tokens, capability "read"), to list zones for `zone_id: "*"`; default `zoneReaderToken` in the orchestrator\'s directory.'),
  BATCH_CHUNK: positiveInt(500).describe('Zones planned per chunk of a batch, and the page size of the zone listing (at most 500).'),
  MAX_IN_FLIGHT: positiveInt(1).describe('Requests handled at once; one keeps the class queue first-in, first-out.'),
  DATABASE_URL: optionalDatabaseUrl().describe("The recorder's projection, read to refuse replays of requests already acted on; unset, only de-duplication marks stop them."),
});
export type PlannerConfig = z.infer<typeof plannerConfigSchema>;
