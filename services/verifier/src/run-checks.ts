import type { CheckName, CheckResult } from '@caracal-rotation/contracts';
import type { CheckContext, CheckRegistry } from './checks/index.js';

/** Runs the plan's checks one after another; a check that throws fails with its error as detail. */
export async function runChecks(names: readonly CheckName[], registry: CheckRegistry, ctx: CheckContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const name of names) {
    const started = performance.now();
    const check = registry[name];
    let outcome: { ok: boolean; detail: string };
    try {
      outcome = check ? await check(ctx) : { ok: false, detail: `no ${name} check is available in this verifier` };
    } catch (err) {
      outcome = { ok: false, detail: `check failed to run: ${(err as Error).message}` };
    }
    results.push({ name, ok: outcome.ok, detail: outcome.detail.slice(0, 4000), duration_ms: Math.round(performance.now() - started) });
  }
  return results;
}
