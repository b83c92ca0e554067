import { auditChecks } from './audit.js';
import { baselineChecks } from './baseline.js';
import type { CheckRegistry } from './context.js';
import { deadLetterChecks } from './dead-letters.js';
import { gatewayChecks } from './gateway.js';
import { postgresChecks } from './postgres.js';
import { redisChecks } from './redis.js';
import { streamsChecks } from './streams.js';
import { tokenChecks } from './tokens.js';
import { kekChecks } from './kek.js';
import { zoneKeyChecks } from './zone-keys.js';

export const CHECKS: CheckRegistry = {
  ...baselineChecks,
  ...auditChecks,
  ...streamsChecks,
  ...gatewayChecks,
  ...tokenChecks,
  ...deadLetterChecks,
  ...postgresChecks,
  ...redisChecks,
  ...zoneKeyChecks,
  ...kekChecks,
};
export type { Check, CheckContext, CheckOutcome, CheckRegistry } from './context.js';
