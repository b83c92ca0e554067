import { expandDrainTargets, streamMark, type RedisClient } from '@caracal-rotation/bus';
import { EVENT_NAMES, type DrainPair, type RotationStreams } from '@caracal-rotation/contracts';
import type { DrainMark } from '@caracal-rotation/projection';

/**
 * The drain marks of DESIGN §5: every stream/group pair of the plan's drain
 * set, plus every group of this system's own streams (our events are signed
 * with the bus key too), each with its stream's last entry id right now.
 * Everything at or before a mark may carry old material.
 *
 * Our own streams are named, not scanned for: a SCAN per rotation walks the
 * whole keyspace, which grows with every rotation.
 */
export async function takeDrainMarks(redis: RedisClient, drainSet: readonly DrainPair[], streams: RotationStreams): Promise<DrainMark[]> {
  const own = EVENT_NAMES.map((name) => ({ stream: streams[name], group: '*' }));
  const ownPattern = `${streams.prefix}.*`;
  const targets = await expandDrainTargets(redis, [...drainSet.filter((p) => p.stream !== ownPattern), ...own]);
  const marks = new Map(await Promise.all([...new Set(targets.map((t) => t.stream))].map(async (s) => [s, await streamMark(redis, s)] as const)));
  return targets.map((t) => ({ stream: t.stream, group: t.group, mark: marks.get(t.stream)! }));
}
