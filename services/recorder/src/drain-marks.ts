import { expandDrainTargets, streamMark, type RedisClient } from '@caracal-rotation/bus';
import type { DrainPair, RotationStreams } from '@caracal-rotation/contracts';
import type { DrainMark } from '@caracal-rotation/projection';

/**
 * The drain marks of DESIGN §5: every stream/group pair of the plan's drain
 * set, plus every group of this system's own streams (our events are signed
 * with the bus key too), each with its stream's last entry id right now.
 * Everything at or before a mark may carry old material.
 */
export async function takeDrainMarks(redis: RedisClient, drainSet: readonly DrainPair[], streams: RotationStreams): Promise<DrainMark[]> {
  const targets = await expandDrainTargets(redis, [...drainSet, { stream: `${streams.prefix}.*`, group: '*' }]);
  const markOf = new Map<string, string>();
  for (const { stream } of targets) if (!markOf.has(stream)) markOf.set(stream, await streamMark(redis, stream));
  return targets.map((t) => ({ stream: t.stream, group: t.group, mark: markOf.get(t.stream)! }));
}
