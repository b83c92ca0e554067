import { probeAdminToken, probeCoordinatorToken } from '@caracal-rotation/caracal-client';
import { fail, pass, requireNewKid, requirePreviousKid, type Check } from './context.js';
import { serviceUrl } from './fleet.js';

/** The API takes the new admin token: GET /v1/zones?limit=1 → 200 (apps/api/src/auth.ts). */
export const adminTokenAccepted: Check = async (ctx) => {
  const kid = requireNewKid(ctx);
  const r = await probeAdminToken(serviceUrl(ctx, 'api'), await ctx.material.byKid(ctx.plan, kid), { signal: ctx.signal });
  return r.verdict === 'accepted' ? pass(`token ${kid}: 200`) : fail(`token ${kid}: ${r.status} (${r.verdict}), expected 200`);
};

/**
 * The API refuses the old admin token: 401. One request only: Caracal
 * answers 429 after 60 refusals a minute from one address.
 */
export const adminTokenOldRefused: Check = async (ctx) => {
  const kid = requirePreviousKid(ctx);
  const r = await probeAdminToken(serviceUrl(ctx, 'api'), await ctx.material.byKid(ctx.plan, kid), { signal: ctx.signal });
  if (r.verdict === 'rate_limited') return fail(`old token ${kid}: 429, the API is rate-limiting refused tokens from this address, which proves nothing`);
  return r.verdict === 'refused' ? pass(`old token ${kid}: 401`) : fail(`old token ${kid}: ${r.status}, expected 401`);
};

/** The coordinator takes its new operator token: GET /stats → 200 (apps/coordinator/src/auth.ts). */
export const coordinatorTokenAccepted: Check = async (ctx) => {
  const kid = requireNewKid(ctx);
  const r = await probeCoordinatorToken(serviceUrl(ctx, 'coordinator'), await ctx.material.byKid(ctx.plan, kid), { signal: ctx.signal });
  return r.verdict === 'accepted' ? pass(`token ${kid}: 200`) : fail(`token ${kid}: ${r.status}, expected 200`);
};

/** The coordinator refuses the old token: 403 operator_token_required. */
export const coordinatorTokenOldRefused: Check = async (ctx) => {
  const kid = requirePreviousKid(ctx);
  const r = await probeCoordinatorToken(serviceUrl(ctx, 'coordinator'), await ctx.material.byKid(ctx.plan, kid), { signal: ctx.signal });
  return r.verdict === 'refused' ? pass(`old token ${kid}: 403`) : fail(`old token ${kid}: ${r.status}, expected 403`);
};
