import { createHash } from 'node:crypto';
import { countRowsNotOnKek, countSealedRows, fetchZoneJwks, listZonesPage, runKekReseal } from '@caracal-rotation/caracal-client';
import { CARACAL_FILES } from '../caracal-files.js';
import { fail, pass, requireNewKid, type Check, type CheckContext } from './context.js';
import { changes, sampleCounter, serviceUrl } from './fleet.js';

/** packages/serverCore/ts/src/secretStore/envelope.ts kekId: the first 8 bytes of SHA-256 over the KEK. */
const kekIdOf = (kekHex: string): Buffer => createHash('sha256').update(Buffer.from(kekHex, 'hex')).digest().subarray(0, 8);

/** Variables the job would otherwise inherit from the verifier, and that would override its *_FILE ones. */
const INHERITED = ['DATABASE_URL', 'SECRET_STORE_KEK', 'SECRET_STORE_KEK_PREVIOUS', 'DATABASE_URL_FILE', 'SECRET_STORE_KEK_FILE', 'SECRET_STORE_KEK_PREVIOUS_FILE'];

/** The re-seal job's environment: the admin role's URL and the KEK files of the store, then the holders file's own variables. */
async function resealEnv(ctx: CheckContext, job: NonNullable<CheckContext['holders']['kek_reseal']>): Promise<NodeJS.ProcessEnv> {
  const store = ctx.material.caracal;
  if (!ctx.plan.secret) throw new Error(`${ctx.plan.material} has no secret file`);
  const { file, previous_file: previous } = ctx.plan.secret;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of INHERITED) delete env[name];
  const secretsDir = store.kind === 'files' ? store.location(file).slice(0, -file.length - 1) : undefined;
  if (secretsDir) {
    env.DATABASE_URL_FILE = store.location(job.admin_url_file);
    env.SECRET_STORE_KEK_FILE = store.location(file);
    if (previous && (await store.read(previous))) env.SECRET_STORE_KEK_PREVIOUS_FILE = store.location(previous);
  } else {
    env.DATABASE_URL = await ctx.material.credential(job.admin_url_file);
    env.SECRET_STORE_KEK = await ctx.material.credential(file);
    const prior = previous ? await store.read(previous) : undefined;
    if (prior) env.SECRET_STORE_KEK_PREVIOUS = prior;
  }
  for (const [name, raw] of Object.entries(job.env)) {
    let value = raw;
    if (value.includes('{secrets_dir}')) {
      if (!secretsDir) throw new Error(`kek_reseal.env.${name} names {secrets_dir}, but the store is not a directory`);
      value = value.replaceAll('{secrets_dir}', secretsDir);
    }
    for (const [, name_] of value.matchAll(/\{store:([A-Za-z][A-Za-z0-9]*)\}/g)) value = value.replace(`{store:${name_}}`, await ctx.material.credential(name_!));
    env[name] = value;
  }
  return env;
}

/**
 * Caracal's re-seal job (apps/api/scripts/rotate-secret-store-kek.mjs) ran
 * as the admin role and left 0 rows failed. A run that examined no row of a
 * table in which the admin role sees sealed rows is not trusted: it ran as a
 * role that row-level security hides them from (the API role sees
 * notification_sinks, which has no policy, and none of the others), and
 * "succeeded" without re-sealing them.
 */
export const kekReseal: Check = async (ctx) => {
  const job = ctx.holders.kek_reseal;
  if (!job) throw new Error('the holders file has no kek_reseal section');
  const remaining = Math.max(1_000, ctx.deadline - Date.now());
  const outcome = await runKekReseal({ command: job.command, env: await resealEnv(ctx, job), timeoutMs: Math.min(job.timeout_ms, remaining), attempts: job.attempts, signal: ctx.signal });
  const runs = outcome.runs.join(', then ');
  const r = outcome.report;
  if (!r) return fail(`the re-seal job did not report (${runs})`);
  const seen = `re-seal job (${runs}): ${r.examined} rows examined, ${r.resealed} resealed, ${r.alreadyCurrent} already current, ${r.rewrittenByLive} rewritten by live services, ${r.failed} failed`;
  if (outcome.exitCode !== 0 || r.failed > 0) return fail(seen);
  const sealed = await countSealedRows(await ctx.material.credential(job.admin_url_file));
  const hidden = sealed.filter((c) => c.rows > 0 && (r.tables.find((t) => t.label === c.label)?.examined ?? 0) === 0);
  if (hidden.length) {
    return fail(`${seen}; but the admin role sees sealed rows the job did not examine (${hidden.map((c) => `${c.label} ${c.rows}`).join(', ')}): the job ran as a role row-level security hides them from (give it the admin role's URL)`);
  }
  return pass(seen);
};

/** No sealed row is left under another KEK than the new one (SQL as the admin role; the kekId is bytes 5–12 of each CSS1 envelope). */
export const kekRowsOnNewKek: Check = async (ctx) => {
  const kid = requireNewKid(ctx);
  const adminUrl = await ctx.material.credential(ctx.holders.postgres?.admin_url_file ?? 'databaseUrl');
  const kekId = kekIdOf(await ctx.material.byKid(ctx.plan, kid));
  const counts = await countRowsNotOnKek(adminUrl, kekId);
  const left = counts.filter((c) => c.rows > 0);
  const seen = counts.map((c) => `${c.column} ${c.rows}`).join(', ');
  return left.length ? fail(`rows not under KEK ${kid} (envelope kekId ${kekId.toString('hex')}): ${seen}`) : pass(`every sealed row is under KEK ${kid} (envelope kekId ${kekId.toString('hex')}): ${seen}`);
};

const INVALID_KEYS = 'caracal_sts_jwks_invalid_keys_total';

/**
 * Every zone's signing keys still open: each zone the API lists answers its
 * JWKS with 200 (404 when it has no key yet), and the STS skips no key it
 * cannot open meanwhile (services/sts/internal/server.go handleJWKS serves
 * the keys it can open and counts the others).
 */
export const kekZoneKeysOpen: Check = async (ctx) => {
  const api = serviceUrl(ctx, 'api');
  const sts = serviceUrl(ctx, 'sts');
  const token = await ctx.material.credential(CARACAL_FILES.adminToken);
  const before = await sampleCounter(ctx, 'sts', INVALID_KEYS);
  const tally = { ok: 0, noKey: 0, zones: 0 };
  const broken: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await listZonesPage(api, token, cursor, undefined, { signal: ctx.signal });
    tally.zones += page.zones.length;
    const queue = [...page.zones];
    await Promise.all(
      Array.from({ length: Math.min(ctx.zoneConcurrency, queue.length) }, async () => {
        for (let zone = queue.shift(); zone !== undefined; zone = queue.shift()) {
          const jwks = await fetchZoneJwks(sts, zone, { signal: ctx.signal });
          if (jwks.status === 200) tally.ok++;
          else if (jwks.status === 404) tally.noKey++;
          else broken.push(`${zone}: ${jwks.status}`);
        }
      }),
    );
    cursor = page.next;
  } while (cursor && !ctx.signal.aborted);
  const after = await sampleCounter(ctx, 'sts', INVALID_KEYS);
  const skipped = [...after.entries()].some(([url, v]) => v > (before.get(url) ?? 0));
  const seen = `${tally.zones} zones: ${tally.ok} JWKS 200, ${tally.noKey} without a key yet (404), ${broken.length} failing; ${INVALID_KEYS} ${changes(before, after)}`;
  if (broken.length) return fail(`${seen}: ${broken.slice(0, 20).join(', ')}${broken.length > 20 ? ', …' : ''}`);
  return skipped ? fail(`${seen}: the STS skipped keys it could not open`) : pass(seen);
};
