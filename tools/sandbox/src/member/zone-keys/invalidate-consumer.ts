import type { MemberContext } from '../context.js';
import { deadLetterEntry, streamSignatureCheck } from '../signed-stream.js';
import type { ConsumerSpec } from '../stream-consumer.js';
import { STS_KEYS_GROUP } from './paths.js';
import type { ZoneKeyStore } from './store.js';

/**
 * `caracal.keys.invalidate {zone_id}`: Caracal's STS drops its cached keys of
 * the zone. Signed like every Caracal stream; a bad signature is dead-lettered.
 */
export function keyInvalidationConsumer(ctx: MemberContext, store: ZoneKeyStore): ConsumerSpec {
  const stream = ctx.streams.keysInvalidate;
  const signed = streamSignatureCheck(ctx, stream);
  return {
    stream,
    group: STS_KEYS_GROUP,
    async handle(id, fields) {
      if (!signed(fields)) {
        ctx.stats.inc('invalid_signature');
        await deadLetterEntry(ctx, stream, STS_KEYS_GROUP, id, fields, 'invalid_signature');
        return;
      }
      if (!fields.zone_id) {
        await deadLetterEntry(ctx, stream, STS_KEYS_GROUP, id, fields, 'invalid_payload');
        return;
      }
      store.invalidate(fields.zone_id);
      await ctx.redis.xack(stream, STS_KEYS_GROUP, id);
      ctx.stats.inc('keys_invalidated');
    },
  };
}
