import { fetchPolicyStatus, probeId } from '@caracal-rotation/caracal-client';
import { fail, pass, requireNewKid, requirePreviousKid, type Check, type CheckContext } from './context.js';
import { serviceUrl } from './fleet.js';

async function statusWith(ctx: CheckContext, kid: string): Promise<number> {
  const key = await ctx.material.byKid(ctx.plan, kid);
  return (await fetchPolicyStatus(serviceUrl(ctx, 'sts'), key, probeId(), { signal: ctx.signal })).status;
}

/** The STS verifies a gateway signature made with the new key: 200 (packages/core/go/sts/gateway_auth.go). */
export const gatewayNewKeyAccepted: Check = async (ctx) => {
  const kid = requireNewKid(ctx);
  const status = await statusWith(ctx, kid);
  return status === 200 ? pass(`policy status signed with kid ${kid}: 200`) : fail(`policy status signed with kid ${kid}: ${status}, expected 200`);
};

/** The STS refuses a gateway signature made with the old key: 401 access_denied. */
export const gatewayOldKeyRefused: Check = async (ctx) => {
  const kid = requirePreviousKid(ctx);
  const status = await statusWith(ctx, kid);
  return status === 401 ? pass(`policy status signed with the old kid ${kid}: 401`) : fail(`policy status signed with the old kid ${kid}: ${status}, expected 401`);
};
