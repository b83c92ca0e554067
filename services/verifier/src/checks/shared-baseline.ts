import { BASELINE_CHECKS, type CheckName } from '@caracal-rotation/contracts';
import type { CheckOutcome, CheckRegistry } from './context.js';

/**
 * The baseline checks prove the fleet works; they do not depend on which
 * rotation asks. When a rotation restarted no holder (zone keys rotate inside
 * the STS), a result obtained within `shareMs` — or still being obtained —
 * answers for it too, so a batch of a thousand zones verifies the fleet a few
 * times, not a thousand. A rotation that restarted holders always runs fresh.
 */
export function withSharedBaseline(registry: CheckRegistry, shareMs: number): CheckRegistry {
  if (shareMs <= 0) return registry;
  const recent = new Map<CheckName, { at: number; outcome: Promise<CheckOutcome> }>();
  const shared: CheckRegistry = { ...registry };
  for (const name of BASELINE_CHECKS) {
    const check = registry[name];
    if (!check) continue;
    shared[name] = async (ctx) => {
      if (ctx.plan.holders.length > 0) return check(ctx);
      const hit = recent.get(name);
      if (hit && Date.now() - hit.at < shareMs) {
        const outcome = await hit.outcome;
        return { ...outcome, detail: `${outcome.detail} (fleet verified ${Date.now() - hit.at} ms ago for another rotation)` };
      }
      const outcome = check(ctx);
      recent.set(name, { at: Date.now(), outcome });
      // A failure is never shared: the next rotation checks again.
      outcome.then((o) => !o.ok && recent.delete(name), () => recent.delete(name));
      return outcome;
    };
  }
  return shared;
}
