import { scanKeys, type RedisClient } from './redis.js';

export interface DrainTarget {
  stream: string;
  group: string;
}

export interface DrainReport extends DrainTarget {
  /** Entries delivered to the group and not yet acknowledged (up to `mark` when one is given). */
  pending: number;
  /** Entries not yet delivered to the group; null when Redis cannot tell. */
  lag: number | null;
  lastDeliveredId: string;
  mark?: string;
  /** True when everything at or before `mark` was delivered and acknowledged. */
  drained?: boolean;
}

const compareIds = (a: string, b: string): number => {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
};
export { compareIds as compareStreamIds };

const pairsToObject = (flat: unknown[]): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
};

async function groupInfo(redis: RedisClient, stream: string): Promise<Record<string, Record<string, unknown>>> {
  try {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    return Object.fromEntries(groups.map((g) => pairsToObject(g)).map((g) => [String(g.name), g]));
  } catch (err) {
    if (String(err).includes('no such key')) return {};
    throw err;
  }
}

/** The stream's last entry id right now: the drain mark (DESIGN §5). */
export async function streamMark(redis: RedisClient, stream: string): Promise<string> {
  try {
    const info = pairsToObject((await redis.xinfo('STREAM', stream)) as unknown[]);
    return String(info['last-generated-id'] ?? '0-0');
  } catch (err) {
    if (String(err).includes('no such key')) return '0-0';
    throw err;
  }
}

/**
 * Expands drain-set patterns: a stream ending in `*` means every stream with
 * that prefix, a group `*` every group of the stream. Dead-letter streams are
 * evidence, never drained, so they are left out.
 */
export async function expandDrainTargets(redis: RedisClient, patterns: readonly DrainTarget[]): Promise<DrainTarget[]> {
  const out = new Map<string, DrainTarget>();
  for (const p of patterns) {
    // SCAN walks one node's keyspace: on a cluster it runs on every master.
    const streams = p.stream.endsWith('*') ? await scanKeys(redis, p.stream, { count: 500, type: 'stream' }) : [p.stream];
    for (const stream of streams.filter((s) => !s.endsWith('.dead'))) {
      const groups = p.group === '*' ? Object.keys(await groupInfo(redis, stream)) : [p.group];
      for (const group of groups) out.set(`${stream}\u0000${group}`, { stream, group });
    }
  }
  return [...out.values()].sort((a, b) => a.stream.localeCompare(b.stream) || a.group.localeCompare(b.group));
}

/**
 * Pending count and lag per stream/group pair, from XINFO GROUPS and XPENDING.
 * With a mark, `pending` counts only entries at or before it and `drained`
 * tells whether the group has consumed and acknowledged everything up to it.
 */
export async function inspectDrain(redis: RedisClient, targets: readonly (DrainTarget & { mark?: string })[]): Promise<DrainReport[]> {
  const reports: DrainReport[] = [];
  const infoCache = new Map<string, Record<string, Record<string, unknown>>>();
  for (const t of targets) {
    if (!infoCache.has(t.stream)) infoCache.set(t.stream, await groupInfo(redis, t.stream));
    const g = infoCache.get(t.stream)![t.group];
    const lastDeliveredId = g ? String(g['last-delivered-id']) : '0-0';
    const lagRaw = g?.lag;
    const lag = lagRaw === null || lagRaw === undefined ? null : Number(lagRaw);
    let pending = 0;
    if (g) {
      if (t.mark) {
        const summary = (await redis.xpending(t.stream, t.group, '-', t.mark, 1_000_000)) as unknown[];
        pending = summary.length;
      } else {
        pending = Number(g.pending ?? 0);
      }
    }
    const report: DrainReport = { stream: t.stream, group: t.group, pending, lag, lastDeliveredId };
    if (t.mark) {
      report.mark = t.mark;
      // A group that no longer exists will never read those entries: nothing left to wait for.
      report.drained = t.mark === '0-0' || !g || (compareIds(lastDeliveredId, t.mark) >= 0 && pending === 0);
    }
    reports.push(report);
  }
  return reports;
}
