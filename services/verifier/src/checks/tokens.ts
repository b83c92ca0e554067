import type { Material } from '@caracal-rotation/contracts';
import { bearer, httpJson, memberUrl, type CheckContext, type CheckRegistry } from './context.js';
import { otherValue } from './old-material.js';

const PROBES: Record<'CARACAL_ADMIN_TOKEN' | 'CARACAL_COORDINATOR_TOKEN', { member: string; path: string }> = {
  CARACAL_ADMIN_TOKEN: { member: 'api', path: '/v1/admin/whoami' },
  CARACAL_COORDINATOR_TOKEN: { member: 'coordinator', path: '/v1/agents' },
};

async function statusWith(ctx: CheckContext, material: keyof typeof PROBES, token: string): Promise<number> {
  const probe = PROBES[material];
  return (await httpJson(`${memberUrl(ctx, probe.member)}${probe.path}`, { headers: bearer(token) })).status;
}

const accepted = (material: keyof typeof PROBES) => async (ctx: CheckContext) => {
  const status = await statusWith(ctx, material, await ctx.material.current(material as Material));
  return { ok: status === 200, detail: `new token answered ${status}` };
};
const oldRefused = (material: keyof typeof PROBES) => async (ctx: CheckContext) => {
  const status = await statusWith(ctx, material, await otherValue(ctx, material));
  return { ok: status === 401, detail: `old token answered ${status}` };
};

export const tokenChecks: CheckRegistry = {
  admin_token_accepted: accepted('CARACAL_ADMIN_TOKEN'),
  admin_token_old_refused: oldRefused('CARACAL_ADMIN_TOKEN'),
  coordinator_token_accepted: accepted('CARACAL_COORDINATOR_TOKEN'),
  coordinator_token_old_refused: oldRefused('CARACAL_COORDINATOR_TOKEN'),
};
