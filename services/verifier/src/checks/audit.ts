import { randomBytes, randomUUID } from 'node:crypto';
import { auditEventFields, fieldArgs } from '@caracal-rotation/caracal-protocol';
import { eventually, httpJson, memberUrl, type CheckContext, type CheckOutcome, type CheckRegistry } from './context.js';
import { otherValue } from './old-material.js';

/** Sends an audit event signed with `keyHex` straight onto the stream and reports what the Audit service did with it. */
async function auditVerdict(ctx: CheckContext, keyHex: string): Promise<'ingested' | 'dead-lettered' | 'no answer'> {
  const id = `rotation-check-${randomUUID()}`;
  const data = JSON.stringify({ type: 'rotation.check', rotation_id: ctx.rotationId, phase: ctx.phase });
  await ctx.redis.xadd(ctx.caracal.auditEvents, '*', ...fieldArgs(auditEventFields(keyHex, id, data)));
  const verdict = await eventually(ctx, async () => {
    const { body } = await httpJson(`${memberUrl(ctx, 'audit')}/internal/audit/events/${id}`);
    return body.ingested === true ? ('ingested' as const) : body.dead_lettered === true ? ('dead-lettered' as const) : undefined;
  });
  return verdict ?? 'no answer';
}

const expect = (verdict: string, wanted: string, what: string): CheckOutcome =>
  verdict === wanted ? { ok: true, detail: `${what}: ${verdict}` } : { ok: false, detail: `${what}: ${verdict}, expected ${wanted}` };

export const auditChecks: CheckRegistry = {
  async audit_new_key_accepted(ctx) {
    return expect(await auditVerdict(ctx, await ctx.material.current('AUDIT_HMAC_KEY')), 'ingested', 'event signed with the new key');
  },
  async audit_mismatch_rejected(ctx) {
    return expect(await auditVerdict(ctx, randomBytes(32).toString('hex')), 'dead-lettered', 'event with a mismatched signature');
  },
  async audit_old_key_refused(ctx) {
    return expect(await auditVerdict(ctx, await otherValue(ctx, 'AUDIT_HMAC_KEY')), 'dead-lettered', 'event signed with the old key');
  },
};
