import type { HolderRoll, HoldersConfig, Phase, ServiceHolder } from '@caracal-rotation/contracts';
import { isOrchestratorHolder } from '@caracal-rotation/lifecycle';
import { rollHolder, type RollOptions } from './roll-holder.js';

/**
 * Rolls the plan's groups one after another (a group restarts together).
 * When a holder fails, later groups are not touched, so a bad value spreads
 * no further; a rollback rolls every holder regardless, to restore them all.
 * The orchestrator's own services (holders of its bus key) are not
 * restarted: `reload` waits until they have loaded the key.
 */
export async function rollGroups(
  groups: string[][],
  phase: Phase,
  holders: HoldersConfig,
  writtenAt: Date,
  opts: RollOptions,
  reload: (services: string[]) => Promise<HolderRoll[]>,
): Promise<HolderRoll[]> {
  const services: Partial<Record<string, ServiceHolder>> = holders.services;
  const results: HolderRoll[] = [];
  let stopped = false;
  for (const names of groups) {
    if (stopped) {
      results.push(...names.map((service) => ({ service, restarted_at: null, ready_at: null, attempts: 0, ok: false, error: 'not rolled: an earlier holder failed' })));
      continue;
    }
    const ours = names.filter(isOrchestratorHolder);
    const theirs = names.filter((n) => !isOrchestratorHolder(n));
    const rolled = [...(await Promise.all(theirs.map((s) => rollHolder(s, services[s], writtenAt, opts)))), ...(ours.length ? await reload(ours) : [])];
    results.push(...rolled);
    if (phase !== 'rollback' && rolled.some((r) => !r.ok)) stopped = true;
  }
  return results;
}
