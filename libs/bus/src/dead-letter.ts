import { deadLetterStream } from '@caracal-rotation/contracts';
import type { RedisClient } from './redis.js';
import type { StreamFields } from './signature.js';

export const BUS_DEAD_LETTER_REASONS = ['invalid_signature', 'unknown_kid', 'invalid_payload', 'max_deliveries'] as const;
export type DeadLetterReason = (typeof BUS_DEAD_LETTER_REASONS)[number] | (string & {});

/**
 * Writes a dead letter in the shape Caracal's STS uses: `original_id`, `error`,
 * `values` (JSON of the original fields). `detail` says why in words; it never
 * carries payload values beyond what `values` already holds.
 */
export async function writeDeadLetter(
  redis: RedisClient,
  stream: string,
  entry: { id: string; fields: StreamFields },
  error: DeadLetterReason,
  extra: { group: string; detail?: string },
): Promise<string> {
  const id = await redis.xadd(
    deadLetterStream(stream),
    '*',
    'original_id',
    entry.id,
    'error',
    error,
    'values',
    JSON.stringify(entry.fields),
    'group',
    extra.group,
    'detail',
    (extra.detail ?? '').slice(0, 2000),
  );
  return String(id);
}
