import type { RedisClient } from '@caracal-rotation/bus';
import { EVENT_NAMES, deadLetterStream, type RotationStreams } from '@caracal-rotation/contracts';
import type { Metrics } from '@caracal-rotation/observability';
import type { RecorderMetrics } from './recorder-metrics.js';

const pairs = (flat: unknown[]): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
};

async function groupsOf(redis: RedisClient, stream: string): Promise<Record<string, unknown>[]> {
  try {
    return ((await redis.xinfo('GROUPS', stream)) as unknown[][]).map(pairs);
  } catch (err) {
    if (String(err).includes('no such key')) return [];
    throw err;
  }
}

/**
 * Sets `caracal_rotation_pending_entries` and `caracal_rotation_group_lag`
 * for every consumer group of every rotation stream,
 * `caracal_rotation_stream_length` for the streams themselves and
 * `caracal_rotation_dlq_entries` for their dead letter streams. The recorder
 * does it because it already watches every rotation stream (its own group is
 * on each of them) and inspects the other groups for the drain gate; one
 * replica's view is the whole bus's, so dashboards take `max` over replicas.
 */
export async function refreshStreamMetrics(
  redis: RedisClient,
  streams: RotationStreams,
  metrics: Pick<Metrics, 'pendingEntries' | 'groupLag' | 'dlqSize'>,
  recorderMetrics: Pick<RecorderMetrics, 'streamLength'>,
): Promise<void> {
  const groups: { stream: string; group: string; pending: number; lag: number | null }[] = [];
  const dlq: { stream: string; size: number }[] = [];
  const lengths: { stream: string; length: number }[] = [];
  for (const name of EVENT_NAMES) {
    const stream = streams[name];
    for (const g of await groupsOf(redis, stream)) {
      const lag = g.lag === null || g.lag === undefined ? null : Number(g.lag);
      groups.push({ stream, group: String(g.name), pending: Number(g.pending ?? 0), lag });
    }
    lengths.push({ stream, length: await redis.xlen(stream) });
    const dead = deadLetterStream(stream);
    dlq.push({ stream: dead, size: await redis.xlen(dead) });
  }
  metrics.pendingEntries.reset();
  metrics.groupLag.reset();
  for (const g of groups) {
    metrics.pendingEntries.set({ stream: g.stream, group: g.group }, g.pending);
    // Redis cannot always tell the lag (after XDEL/XTRIM past the group): no sample then.
    if (g.lag !== null && Number.isFinite(g.lag)) metrics.groupLag.set({ stream: g.stream, group: g.group }, g.lag);
  }
  metrics.dlqSize.reset();
  for (const d of dlq) metrics.dlqSize.set({ stream: d.stream }, d.size);
  for (const l of lengths) recorderMetrics.streamLength.set({ stream: l.stream }, l.length);
}
