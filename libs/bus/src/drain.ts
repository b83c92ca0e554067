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

/** The stream's last entry id right now: the drain mark. */
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
  // One XINFO GROUPS per stream and one XPENDING summary per pair, however
  // many marks are asked about: the retirement timer checks hundreds of
  // rotations against the same few pairs in one pass.
  const streams = [...new Set(targets.map((t) => t.stream))];
  const infos = new Map(await Promise.all(streams.map(async (s) => [s, await groupInfo(redis, s)] as const)));
  const pairs = [...new Map(targets.filter((t) => infos.get(t.stream)![t.group]).map((t) => [`${t.stream}\u0000${t.group}`, t])).values()];
  const summaries = new Map(
    await Promise.all(pairs.map(async (t) => [`${t.stream}\u0000${t.group}`, await pendingSummary(redis, t.stream, t.group)] as const)),
  );

  return Promise.all(
    targets.map(async (t) => {
      const g = infos.get(t.stream)![t.group];
      const lastDeliveredId = g ? String(g['last-delivered-id']) : '0-0';
      const lagRaw = g?.lag;
      const lag = lagRaw === null || lagRaw === undefined ? null : Number(lagRaw);
      const summary = summaries.get(`${t.stream}\u0000${t.group}`);
      let pending = g ? Number(g.pending ?? 0) : 0;
      if (g && t.mark && summary) pending = await pendingUpTo(redis, t, summary, t.mark);
      const report: DrainReport = { stream: t.stream, group: t.group, pending, lag, lastDeliveredId };
      if (t.mark) {
        report.mark = t.mark;
        // A group that no longer exists will never read those entries: nothing left to wait for.
        report.drained = t.mark === '0-0' || !g || (compareIds(lastDeliveredId, t.mark) >= 0 && pending === 0);
      }
      return report;
    }),
  );
}

interface PendingSummary {
  count: number;
  minId: string | null;
  maxId: string | null;
}

async function pendingSummary(redis: RedisClient, stream: string, group: string): Promise<PendingSummary> {
  const [count, minId, maxId] = (await redis.xpending(stream, group)) as [number, string | null, string | null];
  return { count: Number(count), minId, maxId };
}

/** Pending entries at or before `mark`: from the summary when it decides, else a bounded range read. */
async function pendingUpTo(redis: RedisClient, t: DrainTarget, summary: PendingSummary, mark: string): Promise<number> {
  if (summary.count === 0 || summary.minId === null || compareIds(summary.minId, mark) > 0) return 0;
  if (summary.maxId !== null && compareIds(summary.maxId, mark) <= 0) return summary.count;
  return ((await redis.xpending(t.stream, t.group, '-', mark, 100_000)) as unknown[]).length;
}

/**
 * The smallest idle time of a group's consumers (since each last tried to
 * read), or null when the group has none. A live consumer blocked on
 * XREADGROUP stays near zero; a replaced pod's consumer only grows.
 */
export async function smallestConsumerIdle(redis: RedisClient, stream: string, group: string): Promise<number | null> {
  const consumers = ((await redis.xinfo('CONSUMERS', stream, group)) as unknown[][]).map(pairsToObject);
  if (consumers.length === 0) return null;
  return Math.min(...consumers.map((c) => Number(c.idle ?? 0)));
}

export interface GateReport extends DrainReport {
  /** Not drained, and every consumer idle longer than the limit (or none left): it no longer holds anything up. */
  abandoned: boolean;
  idleMs: number | null;
}

/**
 * The drain gate over marked pairs: drained, or abandoned when all of a
 * waiting group's consumers have been idle longer than `abandonAfterMs` (a
 * gateway replica's per-host group after its pod was replaced). Each pair's
 * liveness is read once however many marks share it.
 */
export async function inspectGate(redis: RedisClient, targets: readonly (DrainTarget & { mark: string })[], abandonAfterMs: number): Promise<GateReport[]> {
  const reports = await inspectDrain(redis, targets);
  const liveness = new Map<string, { idleMs: number | null; abandoned: boolean }>();
  const key = (t: DrainTarget) => `${t.stream}\u0000${t.group}`;
  const waiting = [...new Map(reports.filter((r) => !r.drained).map((r) => [key(r), r])).values()];
  await Promise.all(
    waiting.map(async (t) => {
      try {
        const idleMs = await smallestConsumerIdle(redis, t.stream, t.group);
        liveness.set(key(t), { idleMs, abandoned: idleMs === null || idleMs > abandonAfterMs });
      } catch {
        // The group vanished between the two reads: the next look sees it drained.
        liveness.set(key(t), { idleMs: null, abandoned: false });
      }
    }),
  );
  return reports.map((r) => {
    const live = liveness.get(key(r));
    return { ...r, drained: r.drained === true, abandoned: r.drained !== true && live?.abandoned === true, idleMs: live?.idleMs ?? null };
  });
}
