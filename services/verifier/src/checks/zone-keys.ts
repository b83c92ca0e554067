import { zoneRotationStateKey } from '@caracal-rotation/contracts';
import { httpJson, memberUrl, type CheckContext, type CheckRegistry } from './context.js';

const stsUrl = (ctx: CheckContext) => memberUrl(ctx, ctx.holders.zones?.sts ?? 'sts');
const zoneOf = (ctx: CheckContext) => {
  if (!ctx.plan.zone_id) throw new Error('the plan names no zone');
  return ctx.plan.zone_id;
};

/** The canary mandate the secret-writer minted with the old key before rotating. */
async function canary(ctx: CheckContext): Promise<string> {
  const mandate = await ctx.redis.hget(zoneRotationStateKey(ctx.streamPrefix, ctx.rotationId), 'canary');
  if (!mandate) throw new Error('no canary mandate was recorded for this rotation');
  return mandate;
}

async function verifyMandate(ctx: CheckContext): Promise<{ valid: boolean; kid?: string; error?: string }> {
  const { status, body } = await httpJson(`${stsUrl(ctx)}/internal/mandates/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mandate: await canary(ctx), zone_id: zoneOf(ctx) }),
  });
  if (status !== 200) throw new Error(`mandate verification answered ${status}`);
  return body as { valid: boolean; kid?: string; error?: string };
}

export const zoneKeyChecks: CheckRegistry = {
  async jwks_new_kid(ctx) {
    const zone = zoneOf(ctx);
    const res = await fetch(`${stsUrl(ctx)}/.well-known/jwks.json?zone_id=${encodeURIComponent(zone)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { keys?: { kid: string }[] };
    const kids = (body.keys ?? []).map((k) => k.kid);
    const ok = res.status === 200 && kids[0] === ctx.currentKid;
    return { ok, detail: `JWKS of ${zone}: ${res.status}, kids [${kids.join(', ')}], expected active ${ctx.currentKid}; cache-control ${res.headers.get('cache-control')}` };
  },
  async jwks_old_mandate_verifies(ctx) {
    const verdict = await verifyMandate(ctx);
    return { ok: verdict.valid && verdict.kid === ctx.otherKid, detail: `mandate signed by ${ctx.otherKid}: ${verdict.valid ? 'verifies' : `refused (${verdict.error})`} through the JWKS during the overlap` };
  },
  async jwks_old_mandate_refused(ctx) {
    const verdict = await verifyMandate(ctx);
    return { ok: !verdict.valid, detail: `mandate signed by ${ctx.otherKid} after retirement: ${verdict.valid ? 'still verifies' : `refused (${verdict.error})`}` };
  },
};
