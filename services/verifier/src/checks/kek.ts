import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { bearer, httpJson, memberUrl, type CheckContext, type CheckRegistry } from './context.js';

interface ResealSummary {
  done?: boolean;
  resealed?: number;
  skipped?: number;
  failed?: number;
}

function runOnce(argv: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; signal: string | null; last: ResealSummary | undefined }> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    execFile(file!, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      const lines = String(stdout).trim().split('\n').filter(Boolean);
      let last: ResealSummary | undefined;
      try {
        last = lines.length ? (JSON.parse(lines[lines.length - 1]!) as ResealSummary) : undefined;
      } catch {
        last = undefined;
      }
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, signal: e?.signal ?? null, last });
    });
  });
}

/**
 * Runs Caracal's re-seal job (idempotent, compare-and-swap). A job killed by a
 * signal is simply run again: rows it finished stay re-sealed, the rest are
 * picked up. Exit 1 means rows failed to open, which is a verification failure.
 */
async function reseal(ctx: CheckContext) {
  const job = ctx.holders.kek_reseal;
  if (!job) return { ok: false, detail: 'no kek_reseal job is configured in CARACAL_HOLDERS' };
  const dir = ctx.material.secretsDir;
  const argv = job.command.map((a) => a.replaceAll('{secrets_dir}', dir));
  // A *_FILE naming a file that does not exist (no Previous outside an overlap) is left out, as holders do.
  const env = Object.fromEntries(
    Object.entries(job.env)
      .map(([k, v]) => [k, v.replaceAll('{secrets_dir}', dir)] as const)
      .filter(([k, v]) => !k.endsWith('_FILE') || existsSync(v)),
  );
  const runs: string[] = [];
  for (let attempt = 1; attempt <= job.attempts; attempt++) {
    const result = await runOnce(argv, env, job.timeout_ms);
    runs.push(result.signal ? `killed by ${result.signal}` : `exit ${result.code}`);
    if (result.signal) continue;
    const s = result.last ?? {};
    const detail = `re-seal job (${runs.join(', then ')}): ${s.resealed ?? '?'} re-sealed, ${s.skipped ?? '?'} already current, ${s.failed ?? '?'} failed`;
    return { ok: result.code === 0 && s.failed === 0, detail };
  }
  return { ok: false, detail: `re-seal job did not finish: ${runs.join(', ')}` };
}

/** Every sealed value opens, and only under the current KEK (API), and the STS reads its sealed material. */
async function zoneSecretsDecrypt(ctx: CheckContext) {
  const token = await ctx.material.current('CARACAL_ADMIN_TOKEN');
  const problems: string[] = [];
  const details: string[] = [];
  for (const member of ['api', 'sts']) {
    const { status, body } = await httpJson(`${memberUrl(ctx, member)}/internal/sealed/check`, { headers: bearer(member === 'sts' ? await ctx.material.file('stsAdminToken') : token) });
    if (status !== 200) {
      problems.push(`${member}: sealed check answered ${status}`);
      continue;
    }
    const byKek = (body.by_kek_id ?? {}) as Record<string, number>;
    const stale = Object.entries(byKek).filter(([kek]) => !ctx.currentKid.startsWith(kek) && !kek.startsWith(ctx.currentKid));
    details.push(`${member}: ${String(body.opened)}/${String(body.total)} open`);
    if (Number(body.failed) > 0) problems.push(`${member}: ${String(body.failed)} sealed values do not open`);
    if (member === 'api' && stale.length) problems.push(`api: ${stale.reduce((n, [, c]) => n + c, 0)} values still sealed under an older KEK`);
  }
  return problems.length ? { ok: false, detail: problems.join('; ') } : { ok: true, detail: `${details.join(', ')}, all under KEK ${ctx.currentKid}` };
}

export const kekChecks: CheckRegistry = { kek_reseal: reseal, kek_zone_secrets_decrypt: zoneSecretsDecrypt };
