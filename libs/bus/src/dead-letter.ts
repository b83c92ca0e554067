import { deadLetterStream } from '@caracal-rotation/contracts';
import type { RedisClient } from './redis.js';
import type { StreamFields } from './signature.js';

export const BUS_DEAD_LETTER_REASONS = [
  'invalid_signature',
  'unknown_kid',
  'unauthorized_signer',
  'invalid_payload',
  'too_large',
  'stale',
  'max_deliveries',
  'transient_exhausted',
] as const;
export type DeadLetterReason = (typeof BUS_DEAD_LETTER_REASONS)[number] | (string & {});

/** A dead letter keeps at most this much of the original entry: enough to investigate, bounded per group. */
export const DEAD_LETTER_VALUES_MAX = 8 * 1024;

/**
 * Writes a dead letter in the shape Caracal's STS uses: `original_id`, `error`,
 * `values` (JSON of the original fields, cut at 8 KiB). `detail` says why in
 * words; it never carries payload values beyond what `values` already holds.
 */
export async function writeDeadLetter(
  redis: RedisClient,
  stream: string,
  entry: { id: string; fields: StreamFields },
  error: DeadLetterReason,
  extra: { group: string; detail?: string },
): Promise<string> {
  const values = JSON.stringify(entry.fields);
  const id = await redis.xadd(
    deadLetterStream(stream),
    '*',
    'original_id',
    entry.id,
    'error',
    error,
    'values',
    values.length > DEAD_LETTER_VALUES_MAX ? `${values.slice(0, DEAD_LETTER_VALUES_MAX)}…(${values.length} bytes)` : values,
    'group',
    extra.group,
    'detail',
    (extra.detail ?? '').slice(0, 2000),
  );
  return String(id);
}
