import type { CheckName, CheckResult } from '@caracal-rotation/contracts';
import type { CheckContext, CheckRegistry } from './checks/context.js';

export interface CheckBounds {
  /** How long one check may take. */
  boundOf(name: CheckName): number;
}

/**
 * Runs the action's checks one after another, in the order given, each
 * bounded in time: at its bound its signal fires and it fails as
 * unfinished. A check that throws fails with the error's message (the
 * client's errors carry ids and status codes, never values).
 */
export async function runChecks(names: readonly CheckName[], registry: CheckRegistry, bounds: CheckBounds, context: (deadline: number, signal: AbortSignal) => CheckContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const name of names) {
    const bound = bounds.boundOf(name);
    const started = performance.now();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<{ ok: boolean; detail: string }>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ ok: false, detail: `did not finish within ${bound} ms` });
      }, bound);
    });
    let outcome: { ok: boolean; detail: string };
    try {
      outcome = await Promise.race([registry[name](context(Date.now() + bound, controller.signal)), timedOut]);
    } catch (err) {
      outcome = { ok: false, detail: controller.signal.aborted ? `did not finish within ${bound} ms` : `could not run: ${(err as Error).message}` };
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    results.push({ name, ok: outcome.ok, detail: outcome.detail.slice(0, 4000), duration_ms: Math.round(performance.now() - started) });
  }
  return results;
}
