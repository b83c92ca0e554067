import { auditKeyProbe } from '@caracal-rotation/caracal-client';
import { fail, pass, requireNewKid, requirePreviousKid, type Check, type CheckContext } from './context.js';

async function probeWith(ctx: CheckContext, kid: string) {
  const key = await ctx.material.byKid(ctx.plan, kid);
  return auditKeyProbe(ctx.caracalRedis, ctx.caracal, key, { deadline: ctx.deadline, pollMs: ctx.pollMs, signal: ctx.signal });
}

const describe = (v: Awaited<ReturnType<typeof probeWith>>) => (v.verdict === 'no_answer' ? 'no answer from the Audit consumer' : `${v.verdict} (DLQ reason ${v.reason})`);

/** Caracal's Audit verifies an event signed with the new key (services/audit/internal/consumer.go verifyHMAC). */
export const auditNewKeyAccepted: Check = async (ctx) => {
  const kid = requireNewKid(ctx);
  const verdict = await probeWith(ctx, kid);
  return verdict.verdict === 'accepted' ? pass(`probe signed with kid ${kid}: ${describe(verdict)}`) : fail(`probe signed with kid ${kid}: ${describe(verdict)}`);
};

/** Caracal's Audit refuses an event signed with the old key: `hmac_verify_failed`. */
export const auditOldKeyRefused: Check = async (ctx) => {
  const kid = requirePreviousKid(ctx);
  const verdict = await probeWith(ctx, kid);
  return verdict.verdict === 'refused' ? pass(`probe signed with the old kid ${kid}: ${describe(verdict)}`) : fail(`probe signed with the old kid ${kid}: ${describe(verdict)}`);
};
