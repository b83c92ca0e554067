import { timingSafeEqual } from 'node:crypto';
import { decodeHexKey } from '@caracal-rotation/bus';
import { signAuditData } from '@caracal-rotation/caracal-protocol';
import type { MemberContext } from './context.js';
import { execInOrder, type RedisCommand } from './redis.js';
import type { ConsumerSpec } from './stream-consumer.js';

export const AUDIT_GROUP = 'audit-ingestor';

/** Redis sets that remember outcomes across restarts (the real service has Postgres). */
export function auditOutcomeKeys(namespace: string): { ingested: string; deadLettered: string } {
  return { ingested: `${namespace}sandbox:audit:ingested`, deadLettered: `${namespace}sandbox:audit:dead_lettered` };
}

/**
 * The Audit service's ingestion check: `sig` must be the HMAC of the exact
 * `data` bytes under the current key (or the previous one during overlap).
 * A failure goes to the DLQ with reason `hmac_verify_failed` and is XACKed
 * after the DLQ write, as Caracal does.
 */
export function auditConsumer(ctx: MemberContext, ingested: Set<string>): ConsumerSpec {
  const stream = ctx.streams.auditEvents;
  const keys = ctx.material.accepted('AUDIT_HMAC_KEY').map((hex) => decodeHexKey(hex));
  const outcome = auditOutcomeKeys(ctx.config.namespace);

  return {
    stream,
    group: AUDIT_GROUP,
    async handle(entryId, fields) {
      const id = fields.id ?? '';
      const data = fields.data ?? '';
      if (id !== '' && sigMatches(keys, data, fields.sig)) {
        await execInOrder(ctx.redis, [
          ['sadd', outcome.ingested, id],
          ['xack', stream, AUDIT_GROUP, entryId],
        ]);
        ingested.add(id);
        ctx.stats.inc('events_ingested');
        return;
      }
      ctx.stats.inc('hmac_verify_failed');
      const dlq: RedisCommand[] = [['xadd', ctx.streams.auditDlq, '*', 'original_id', entryId, 'reason', 'hmac_verify_failed', 'id', id, 'data', data]];
      if (id !== '') dlq.push(['sadd', outcome.deadLettered, id]);
      dlq.push(['xack', stream, AUDIT_GROUP, entryId]);
      await execInOrder(ctx.redis, dlq);
      ctx.log('warn', 'audit event dead-lettered', { entry_id: entryId, event_id: id, reason: 'hmac_verify_failed' });
    },
  };
}

function sigMatches(keys: Buffer[], data: string, sig: string | undefined): boolean {
  if (sig === undefined || !/^[0-9a-fA-F]{64}$/.test(sig)) return false;
  const presented = Buffer.from(sig, 'hex');
  return keys.some((key) => timingSafeEqual(Buffer.from(signAuditData(key, data), 'hex'), presented));
}
