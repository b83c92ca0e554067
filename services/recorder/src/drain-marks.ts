import { expandDrainTargets, streamMark } from '@caracal-rotation/bus';
import type { DrainPair } from '@caracal-rotation/contracts';
import type { DrainMark } from '@caracal-rotation/projection';
import type { StreamHomes } from './stream-homes.js';

/**
 * The drain marks of docs/architecture.md §7: every stream/group pair of the
 * plan's drain set (patterns expanded on the Redis that holds them), each
 * with its stream's last entry id right now. Everything at or before a mark
 * may carry the old material. Taken when the deploy's restarts complete; a
 * mark taken later is only stricter.
 */
export async function takeDrainMarks(homes: StreamHomes, drainSet: readonly DrainPair[]): Promise<DrainMark[]> {
  const marks: DrainMark[] = [];
  for (const [redis, patterns] of homes.split(drainSet)) {
    const targets = await expandDrainTargets(redis, patterns);
    const last = new Map(await Promise.all([...new Set(targets.map((t) => t.stream))].map(async (s) => [s, await streamMark(redis, s)] as const)));
    for (const t of targets) marks.push({ stream: t.stream, group: t.group, mark: last.get(t.stream)! });
  }
  return marks;
}
