import { INVALID_PASSWORD, postgresLogin, redisAuth } from '@caracal-rotation/caracal-client';
import { fail, pass, requireNewKid, requirePreviousKid, type Check, type CheckContext } from './context.js';

/** The role's URL file (`<role>DatabaseUrl`): its host, database and user are where the role logs in. */
function roleUrlFile(ctx: CheckContext): string {
  const file = ctx.plan.derived.find((d) => d.endsWith('DatabaseUrl')) ?? (ctx.plan.role ? `${ctx.plan.role}DatabaseUrl` : undefined);
  if (!file) throw new Error(`${ctx.plan.material} names no role`);
  return file;
}

/** Derived URL files that do not carry `password`: their readers would log in with another one. */
async function staleDerived(ctx: CheckContext, password: string): Promise<string[]> {
  const stale: string[] = [];
  for (const name of ctx.plan.derived) {
    let carried: string | undefined;
    try {
      carried = decodeURIComponent(new URL(await ctx.material.credential(name)).password);
    } catch {
      carried = undefined;
    }
    if (carried !== password) stale.push(name);
  }
  return stale;
}

/** The role logs in with its new password, and its URL file carries it (infra/postgres/scripts/migrate.sh). */
export const postgresLoginNew: Check = async (ctx) => {
  const kid = requireNewKid(ctx);
  const file = roleUrlFile(ctx);
  const password = await ctx.material.byKid(ctx.plan, kid);
  const login = await postgresLogin(await ctx.material.credential(file), password);
  const stale = await staleDerived(ctx, password);
  const seen = `login as the role of ${file} with password ${kid}: ${login.ok ? login.detail : `refused (${login.code})`}`;
  if (!login.ok) return fail(seen);
  return stale.length ? fail(`${seen}; ${stale.join(', ')} does not carry that password`) : pass(seen);
};

/** The old password is refused as a wrong password (28P01), not for any other reason. */
export const postgresLoginOldRefused: Check = async (ctx) => {
  const kid = requirePreviousKid(ctx);
  const file = roleUrlFile(ctx);
  const login = await postgresLogin(await ctx.material.credential(file), await ctx.material.byKid(ctx.plan, kid));
  const seen = `login as the role of ${file} with the old password ${kid}: ${login.ok ? login.detail : `refused (${login.code})`}`;
  return !login.ok && login.code === INVALID_PASSWORD ? pass(seen) : fail(`${seen}; expected ${INVALID_PASSWORD}`);
};

const redisUrlFile = (ctx: CheckContext): string => ctx.holders.redis?.admin_url_file ?? 'redisUrl';

/** AUTH with the new password works on Caracal's Redis, and redisUrl carries it (infra/redis/entrypoint.sh). */
export const redisAuthNew: Check = async (ctx) => {
  const kid = requireNewKid(ctx);
  const password = await ctx.material.byKid(ctx.plan, kid);
  const auth = await redisAuth(await ctx.material.credential(redisUrlFile(ctx)), password);
  const stale = await staleDerived(ctx, password);
  const seen = `AUTH with password ${kid}: ${auth.ok ? 'OK' : `refused (${auth.code})`}`;
  if (!auth.ok) return fail(seen);
  return stale.length ? fail(`${seen}; ${stale.join(', ')} does not carry that password`) : pass(seen);
};

/** AUTH with the old password fails with WRONGPASS once it was removed. */
export const redisAuthOldRefused: Check = async (ctx) => {
  const kid = requirePreviousKid(ctx);
  const auth = await redisAuth(await ctx.material.credential(redisUrlFile(ctx)), await ctx.material.byKid(ctx.plan, kid));
  const seen = `AUTH with the old password ${kid}: ${auth.ok ? 'OK' : `refused (${auth.code})`}`;
  return !auth.ok && auth.code === 'WRONGPASS' ? pass(seen) : fail(`${seen}; expected WRONGPASS`);
};
