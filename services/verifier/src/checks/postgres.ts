import { postgresRoleTargetSchema } from '@caracal-rotation/contracts';
import { keyIdOf } from '@caracal-rotation/secrets';
import pg from 'pg';
import type { CheckContext, CheckOutcome, CheckRegistry } from './context.js';

/** SQLSTATE of a wrong password: the only answer that proves a password is refused. */
const INVALID_PASSWORD = '28P01';

interface Subject {
  role: string;
  file: string;
  adminUrl: string;
}

/** The Postgres role of the plan, its password file and the admin URL (from the holders file's `postgres` target). */
async function subjectOf(ctx: CheckContext): Promise<Subject> {
  if (!ctx.plan.secret) throw new Error(`${ctx.plan.material} has no secret file in its plan`);
  if (!ctx.plan.role) throw new Error(`${ctx.plan.material} names no role in its plan`);
  // The writer's defaults apply when the holders file has no `postgres` section.
  const target = ctx.holders.postgres ?? postgresRoleTargetSchema.parse({});
  return {
    role: target.role_template.replaceAll('{role}', ctx.plan.role),
    file: ctx.plan.secret.file,
    adminUrl: await ctx.material.file(target.admin_url_file),
  };
}

type LoginResult = { ok: true } | { ok: false; code: string };

/**
 * Logs in as `role` with `password` to the server and database of the admin
 * URL and runs `SELECT 1`. The outcome is a SQLSTATE or errno name, never a
 * message (which could carry the URL).
 */
async function login(adminUrl: string, role: string, password: string, timeoutMs: number): Promise<LoginResult> {
  let url: URL;
  try {
    url = new URL(adminUrl);
  } catch {
    throw new Error('the Postgres admin URL is not a valid URL');
  }
  url.username = role;
  url.password = password;
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: Math.max(1000, Math.min(timeoutMs, 5000)), application_name: 'caracal-verifier' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (err) {
    return { ok: false, code: errorCode(err) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,32}$/.test(code) ? code : 'no code';
}

/**
 * Derived files of the plan (`<role>DatabaseUrl`, `redisUrl`) whose URL does
 * not carry `password`: holders read those, so a stale one would fail them.
 * Returns the names of the files that disagree, never a value.
 */
export async function derivedMismatches(ctx: CheckContext, password: string): Promise<string[]> {
  const stale: string[] = [];
  for (const name of ctx.plan.derived) {
    let carried: string | undefined;
    try {
      carried = decodeURIComponent(new URL(await ctx.material.file(name)).password);
    } catch {
      carried = undefined;
    }
    if (carried !== password) stale.push(name);
  }
  return stale;
}

/** The file's value must be the rotation's current material, else the check would prove something else. */
export function kidMismatch(ctx: CheckContext, file: string, value: string): CheckOutcome | undefined {
  const kid = keyIdOf(value);
  return kid === ctx.currentKid ? undefined : { ok: false, detail: `${file} holds kid ${kid}, but the rotation's current material is kid ${ctx.currentKid}` };
}

export const postgresChecks: CheckRegistry = {
  /** The role logs in with the password now in its file (and the derived URL carries the same one). */
  async postgres_login_new(ctx) {
    const { role, file, adminUrl } = await subjectOf(ctx);
    const password = await ctx.material.currentOfFile(file);
    const mismatch = kidMismatch(ctx, file, password);
    if (mismatch) return mismatch;
    const result = await login(adminUrl, role, password, ctx.timeoutMs);
    const stale = await derivedMismatches(ctx, password);
    const what = `login as ${role} with the password in ${file} (kid ${ctx.currentKid}): ${result.ok ? 'accepted' : `refused (${result.code})`}`;
    const derived = stale.length > 0 ? `; ${stale.join(', ')} does not carry that password` : '';
    return { ok: result.ok && stale.length === 0, detail: `${what}${derived}` };
  },

  /** The password before the rotation (or the abandoned one after a rollback) is refused as a wrong password. */
  async postgres_login_old_refused(ctx) {
    const { role, file, adminUrl } = await subjectOf(ctx);
    if (!ctx.otherKid) return { ok: false, detail: `the event names no previous password of ${file} to test` };
    const old = await ctx.material.byKidInFile(file, ctx.otherKid);
    const result = await login(adminUrl, role, old, ctx.timeoutMs);
    const refused = !result.ok && result.code === INVALID_PASSWORD;
    return {
      ok: refused,
      detail: `login as ${role} with the old password (kid ${ctx.otherKid}): ${result.ok ? 'accepted' : `refused (${result.code}${refused ? ', wrong password' : ''})`}`,
    };
  },
};
