import { randomUUID } from 'node:crypto';
import { fieldArgs, revocationFields } from '@caracal-rotation/caracal-protocol';
import { eventually, httpJson, memberUrl, type CheckContext, type CheckRegistry } from './context.js';
import { otherValue } from './old-material.js';

const CONSUMERS = ['sts', 'gateway'] as const;

/** Publishes a revocation signed with `keyHex` and reports, per consumer, whether it was applied. */
async function revocationVerdict(ctx: CheckContext, keyHex: string, expectApplied: boolean): Promise<Record<string, boolean>> {
  const session = { zone_id: 'rotation-check', session_id: randomUUID(), reason: `rotation ${ctx.rotationId}` };
  const stream = ctx.caracal.sessionsRevoke;
  const entryId = String(await ctx.redis.xadd(stream, '*', ...fieldArgs(revocationFields(stream, keyHex, session))));
  const applied = async (member: string) => {
    const { body } = await httpJson(`${memberUrl(ctx, member)}/internal/sessions/revoked?zone_id=${session.zone_id}&session_id=${session.session_id}`);
    return body.revoked === true;
  };
  if (!expectApplied) {
    // A refusal is visible as one dead letter per consumer group.
    await eventually(ctx, async () => {
      const dead = await ctx.redis.xrange(`${stream}.dead`, entryId, '+');
      const hits = dead.filter(([, f]) => f[f.indexOf('original_id') + 1] === entryId).length;
      return hits >= CONSUMERS.length ? true : undefined;
    });
  }
  const verdict: Record<string, boolean> = {};
  for (const member of CONSUMERS) {
    verdict[member] = expectApplied ? (await eventually(ctx, async () => ((await applied(member)) ? true : undefined))) === true : await applied(member);
  }
  return verdict;
}

const describe = (verdict: Record<string, boolean>) => Object.entries(verdict).map(([m, a]) => `${m} ${a ? 'applied' : 'refused'}`).join(', ');

export const streamsChecks: CheckRegistry = {
  async streams_new_key_accepted(ctx) {
    const verdict = await revocationVerdict(ctx, await ctx.material.current('STREAMS_HMAC_KEY'), true);
    return { ok: Object.values(verdict).every(Boolean), detail: `message signed with the new key: ${describe(verdict)}` };
  },
  async streams_old_key_refused(ctx) {
    const verdict = await revocationVerdict(ctx, await otherValue(ctx, 'STREAMS_HMAC_KEY'), false);
    return { ok: Object.values(verdict).every((a) => !a), detail: `message signed with the old key: ${describe(verdict)}` };
  },
};

export { CONSUMERS as REVOCATION_CONSUMERS };
export async function countSince(ctx: CheckContext, stream: string, sinceMs: number, errorField: string, values: readonly string[]): Promise<number> {
  const entries = await ctx.redis.xrange(stream, `${sinceMs}-0`, '+');
  return entries.filter(([, f]) => values.includes(f[f.indexOf(errorField) + 1] ?? '')).length;
}
