import { decodeHexKey, signatureMatches } from '@caracal-rotation/bus';
import { deadLetterStream } from '@caracal-rotation/contracts';
import type { MemberContext } from './context.js';
import { execInOrder } from './redis.js';

/**
 * Caracal's handling of its signed streams, shared by every consumer: `_sig`
 * must verify under the current streams key (or the previous one if this
 * holder accepts overlap); anything else goes to `<stream>.dead` and is XACKed.
 */
export function streamSignatureCheck(ctx: MemberContext, stream: string): (fields: Record<string, string>) => boolean {
  // Decoded once: members never reload material.
  const keys = ctx.material.accepted('STREAMS_HMAC_KEY').map((hex) => decodeHexKey(hex));
  return (fields) => keys.some((key) => signatureMatches(stream, fields, key));
}

/** Writes the TS revocation backend's dead-letter shape and acknowledges (in one transaction; on a cluster the dead letter first, then the XACK). */
export async function deadLetterEntry(ctx: MemberContext, stream: string, group: string, id: string, fields: Record<string, string>, error: string): Promise<void> {
  await execInOrder(ctx.redis, [
    ['xadd', deadLetterStream(stream), '*', 'original_id', id, 'error', error, 'values', JSON.stringify(fields)],
    ['xack', stream, group, id],
  ]);
  ctx.log('warn', 'stream entry dead-lettered', { stream, group, entry_id: id, error, kid: fields.kid });
}
