import type { HolderRoll, HoldersConfig, Phase, Plan } from '@caracal-rotation/contracts';
import { rollHolder, type RollOptions } from './roll-holder.js';

/**
 * Rolls the plan's holders group by group (a group restarts together). When
 * a holder fails, later groups are not touched, so a bad value spreads no
 * further; a rollback rolls every holder regardless, to restore them all.
 */
export async function rollPlan(plan: Plan, phase: Phase, holders: HoldersConfig, opts: RollOptions): Promise<HolderRoll[]> {
  const groups = new Map<number, string[]>();
  for (const h of plan.holders) groups.set(h.roll_group, [...(groups.get(h.roll_group) ?? []), h.service]);
  const results: HolderRoll[] = [];
  let stopped = false;
  for (const [, services] of [...groups.entries()].sort(([a], [b]) => a - b)) {
    if (stopped) {
      results.push(...services.map((service) => ({ service, restarted_at: null, ready_at: null, attempts: 0, ok: false, error: 'not rolled: an earlier holder failed' })));
      continue;
    }
    const rolled = await Promise.all(services.map((s) => rollHolder(s, holders.holders[s], opts)));
    results.push(...rolled);
    if (phase !== 'rollback' && rolled.some((r) => !r.ok)) stopped = true;
  }
  return results;
}
