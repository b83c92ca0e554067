import { deadLetterStream, rotationStreams } from '@caracal-rotation/contracts';
// Test-only helper (a devDependency); the workspace's tag rules do not yet exempt test files.
import { deleteKeys, testRedis, uniqueName } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareStreamIds, createRedis, expandDrainTargets, inspectDrain, streamMark, type Redis } from './index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let redis: Redis;
let raw: Redis;
const prefixes: string[] = [];

function freshPrefix(): string {
  const prefix = rotationStreams(uniqueName('t-bus-drain')).prefix;
  prefixes.push(prefix);
  return prefix;
}

async function addEntries(stream: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(String(await raw.xadd(stream, '*', 'n', String(i))));
  return ids;
}

async function readAs(stream: string, group: string, consumer: string, count: number): Promise<string[]> {
  const reply = (await raw.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count), 'STREAMS', stream, '>')) as [string, [string, string[]][]][] | null;
  return (reply?.[0]?.[1] ?? []).map(([id]) => id);
}

/** XPENDING summary form: [count, smallest id, greatest id, per-consumer counts]. */
async function pendingSummary(stream: string, group: string): Promise<{ count: number; consumers: Record<string, number> }> {
  const [count, , , consumers] = (await raw.xpending(stream, group)) as [number | string, string | null, string | null, [string, string][] | null];
  return { count: Number(count), consumers: Object.fromEntries((consumers ?? []).map(([c, n]) => [c, Number(n)])) };
}

/** XINFO GROUPS, one object per group. */
async function xinfoGroups(stream: string): Promise<Record<string, Record<string, unknown>>> {
  const groups = (await raw.xinfo('GROUPS', stream)) as unknown[][];
  const out: Record<string, Record<string, unknown>> = {};
  for (const g of groups) {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < g.length; i += 2) o[String(g[i])] = g[i + 1];
    out[String(o.name)] = o;
  }
  return out;
}

beforeAll(() => {
  redis = createRedis(REDIS_URL);
  raw = testRedis();
});

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(raw, prefix);
  await Promise.all([redis.quit(), raw.quit()]);
});

describe('inspectDrain', () => {
  it('matches XPENDING and XINFO GROUPS after a scripted sequence of adds, reads and acks', async () => {
    const stream = `${freshPrefix()}.completed`;
    const ids = await addEntries(stream, 10);
    await raw.xgroup('CREATE', stream, 'busy', '0');
    await raw.xgroup('CREATE', stream, 'idle', '0');
    await raw.xgroup('CREATE', stream, 'caught-up', '$');

    expect(await readAs(stream, 'busy', 'c1', 4)).toEqual(ids.slice(0, 4));
    expect(await readAs(stream, 'busy', 'c2', 3)).toEqual(ids.slice(4, 7));
    expect(await raw.xack(stream, 'busy', ids[0]!, ids[2]!, ids[5]!)).toBe(3);

    const reports = await inspectDrain(redis, [
      { stream, group: 'busy' },
      { stream, group: 'idle' },
      { stream, group: 'caught-up' },
      { stream, group: 'missing' },
    ]);
    const info = await xinfoGroups(stream);
    const byGroup = Object.fromEntries(reports.map((r) => [r.group, r]));

    // Our own arithmetic: 7 delivered - 3 acked = 4 pending; 10 - 7 = 3 undelivered.
    const busyPending = await pendingSummary(stream, 'busy');
    expect(busyPending).toEqual({ count: 4, consumers: { c1: 2, c2: 2 } });
    expect(byGroup.busy).toEqual({ stream, group: 'busy', pending: busyPending.count, lag: 3, lastDeliveredId: ids[6] });
    expect(byGroup.busy!.lag).toBe(Number(info.busy!.lag));
    expect(byGroup.busy!.lastDeliveredId).toBe(info.busy!['last-delivered-id']);
    expect(byGroup.busy!.pending).toBe(Number(info.busy!.pending));

    expect(byGroup.idle).toEqual({ stream, group: 'idle', pending: 0, lag: 10, lastDeliveredId: '0-0' });
    expect(byGroup.idle!.lag).toBe(Number(info.idle!.lag));
    expect((await pendingSummary(stream, 'idle')).count).toBe(0);

    expect(byGroup['caught-up']).toEqual({ stream, group: 'caught-up', pending: 0, lag: 0, lastDeliveredId: ids[9] });
    expect(byGroup['caught-up']!.lastDeliveredId).toBe(info['caught-up']!['last-delivered-id']);

    expect(byGroup.missing).toEqual({ stream, group: 'missing', pending: 0, lag: null, lastDeliveredId: '0-0' });
    // One report per target, in order.
    expect(reports.map((r) => r.group)).toEqual(['busy', 'idle', 'caught-up', 'missing']);
  });

  it('follows further reads and acks until the group is fully drained', async () => {
    const stream = `${freshPrefix()}.planned`;
    const ids = await addEntries(stream, 5);
    await raw.xgroup('CREATE', stream, 'g', '0');
    await readAs(stream, 'g', 'c', 5);
    let [r] = await inspectDrain(redis, [{ stream, group: 'g' }]);
    expect(r).toMatchObject({ pending: 5, lag: 0, lastDeliveredId: ids[4] });

    await raw.xack(stream, 'g', ...ids);
    [r] = await inspectDrain(redis, [{ stream, group: 'g' }]);
    expect(r).toMatchObject({ pending: 0, lag: 0, lastDeliveredId: ids[4] });
    expect((await pendingSummary(stream, 'g')).count).toBe(0);

    const more = await addEntries(stream, 2);
    [r] = await inspectDrain(redis, [{ stream, group: 'g' }]);
    expect(r).toMatchObject({ pending: 0, lag: 2, lastDeliveredId: ids[4] });
    expect(compareStreamIds(more[1]!, r!.lastDeliveredId)).toBeGreaterThan(0);
  });

  it('reports a stream that does not exist as nothing pending, no lag known', async () => {
    const stream = `${freshPrefix()}.failed`;
    expect(await inspectDrain(redis, [{ stream, group: 'g' }])).toEqual([{ stream, group: 'g', pending: 0, lag: null, lastDeliveredId: '0-0' }]);
  });
});

describe('the drain gate with a mark', () => {
  it('is not drained while an entry at or before the mark is undelivered or pending, and drained once those are acked even with newer entries pending', async () => {
    const stream = `${freshPrefix()}.written`;
    const before = await addEntries(stream, 5);
    const mark = await streamMark(redis, stream);
    expect(mark).toBe(before[4]);
    const after = await addEntries(stream, 3);
    await raw.xgroup('CREATE', stream, 'g', '0');

    const gate = async () => (await inspectDrain(redis, [{ stream, group: 'g', mark }]))[0]!;

    // Nothing delivered yet: everything up to the mark is lag, not pending.
    expect(await gate()).toMatchObject({ pending: 0, lag: 8, lastDeliveredId: '0-0', mark, drained: false });

    // Part of the marked range delivered: the rest is still undelivered.
    await readAs(stream, 'g', 'c', 3);
    expect(await gate()).toMatchObject({ pending: 3, lag: 5, drained: false });
    await raw.xack(stream, 'g', ...before.slice(0, 3));
    expect(await gate()).toMatchObject({ pending: 0, lag: 5, lastDeliveredId: before[2], drained: false });

    // Everything delivered, including entries past the mark.
    await readAs(stream, 'g', 'c', 10);
    expect(await gate()).toMatchObject({ pending: 2, lag: 0, lastDeliveredId: after[2], drained: false });

    // Only the entry exactly at the mark is left pending: still not drained.
    await raw.xack(stream, 'g', before[3]!);
    expect(await gate()).toMatchObject({ pending: 1, drained: false });

    // Acked up to the mark: drained, while the newer entries are still pending.
    await raw.xack(stream, 'g', before[4]!);
    expect((await pendingSummary(stream, 'g')).count).toBe(3);
    expect(await gate()).toMatchObject({ pending: 0, lag: 0, mark, drained: true });

    // Without the mark the same group still shows its pending entries.
    expect((await inspectDrain(redis, [{ stream, group: 'g' }]))[0]).toMatchObject({ pending: 3 });
  });

  it('is drained when everything up to the mark was acked though newer entries are not yet delivered', async () => {
    const stream = `${freshPrefix()}.rolled`;
    await addEntries(stream, 2);
    const mark = await streamMark(redis, stream);
    await raw.xgroup('CREATE', stream, 'g', '0');
    const delivered = await readAs(stream, 'g', 'c', 10);
    await raw.xack(stream, 'g', ...delivered);
    await addEntries(stream, 4);
    expect((await inspectDrain(redis, [{ stream, group: 'g', mark }]))[0]).toMatchObject({ pending: 0, lag: 4, drained: true });
  });

  it('counts a pending entry of a dead consumer as not drained', async () => {
    const stream = `${freshPrefix()}.verified`;
    const ids = await addEntries(stream, 3);
    const mark = await streamMark(redis, stream);
    await raw.xgroup('CREATE', stream, 'g', '0');
    await readAs(stream, 'g', 'alive', 2);
    await readAs(stream, 'g', 'dead', 1);
    await raw.xack(stream, 'g', ids[0]!, ids[1]!);
    expect((await inspectDrain(redis, [{ stream, group: 'g', mark }]))[0]).toMatchObject({ pending: 1, drained: false });
  });

  it('a mark of 0-0 (empty or missing stream) is drained at once, and so is a group deleted since it was marked', async () => {
    const prefix = freshPrefix();
    const missing = `${prefix}.none`;
    expect(await streamMark(redis, missing)).toBe('0-0');
    expect((await inspectDrain(redis, [{ stream: missing, group: 'g', mark: '0-0' }]))[0]).toMatchObject({ drained: true, pending: 0 });

    const stream = `${prefix}.completed`;
    await addEntries(stream, 1);
    const mark = await streamMark(redis, stream);
    // Nobody will ever read those entries for a group that is gone: waiting for it would wedge retirement.
    expect((await inspectDrain(redis, [{ stream, group: 'nobody', mark }]))[0]).toMatchObject({ drained: true, lastDeliveredId: '0-0' });
    await raw.xgroup('CREATE', stream, 'somebody', '0');
    expect((await inspectDrain(redis, [{ stream, group: 'somebody', mark }]))[0]).toMatchObject({ drained: false });
  });

  it('streamMark is the last generated id even after the last entry was deleted', async () => {
    const stream = `${freshPrefix()}.requested`;
    const ids = await addEntries(stream, 2);
    await raw.xdel(stream, ids[1]!);
    expect(await streamMark(redis, stream)).toBe(ids[1]);
  });
});

describe('expandDrainTargets', () => {
  it('expands prefix* streams and * groups, skips .dead streams and keys that are not streams', async () => {
    const prefix = freshPrefix();
    const a = `${prefix}.a`;
    const b = `${prefix}.b`;
    const lonely = `${prefix}.lonely`;
    for (const [stream, groups] of [
      [a, ['recorder', 'planner']],
      [b, ['recorder']],
      [deadLetterStream(a), ['recorder']],
    ] as const) {
      for (const g of groups) await raw.xgroup('CREATE', stream, g, '0', 'MKSTREAM');
    }
    await raw.xadd(lonely, '*', 'x', '1');
    await raw.set(`${prefix}.not-a-stream`, 'x');
    await raw.set(`${a}:seen:recorder:e1`, '1');

    expect(await expandDrainTargets(redis, [{ stream: `${prefix}*`, group: '*' }])).toEqual([
      { stream: a, group: 'planner' },
      { stream: a, group: 'recorder' },
      { stream: b, group: 'recorder' },
    ]);

    expect(await expandDrainTargets(redis, [{ stream: `${prefix}*`, group: 'recorder' }])).toEqual([
      { stream: a, group: 'recorder' },
      { stream: b, group: 'recorder' },
      { stream: lonely, group: 'recorder' },
    ]);

    // Literal names pass through; overlapping patterns give each pair once.
    expect(
      await expandDrainTargets(redis, [
        { stream: `${prefix}*`, group: '*' },
        { stream: a, group: 'recorder' },
        { stream: `${prefix}.x`, group: 'g' },
      ]),
    ).toEqual([
      { stream: a, group: 'planner' },
      { stream: a, group: 'recorder' },
      { stream: b, group: 'recorder' },
      { stream: `${prefix}.x`, group: 'g' },
    ]);

    expect(await expandDrainTargets(redis, [{ stream: `${prefix}.zzz*`, group: '*' }])).toEqual([]);
    expect(await expandDrainTargets(redis, [{ stream: deadLetterStream(a), group: 'recorder' }])).toEqual([]);
  });

  it('finds every matching stream beyond one SCAN page', async () => {
    const prefix = freshPrefix();
    const pipeline = raw.pipeline();
    for (let i = 0; i < 700; i++) pipeline.xadd(`${prefix}.s${String(i).padStart(4, '0')}`, '*', 'x', '1');
    await pipeline.exec();
    const targets = await expandDrainTargets(redis, [{ stream: `${prefix}*`, group: 'g' }]);
    expect(targets).toHaveLength(700);
    expect(new Set(targets.map((t) => t.stream)).size).toBe(700);
  });

  it('feeds inspectDrain: every expanded pair gets a report', async () => {
    const prefix = freshPrefix();
    await raw.xgroup('CREATE', `${prefix}.a`, 'g1', '0', 'MKSTREAM');
    await raw.xgroup('CREATE', `${prefix}.b`, 'g2', '0', 'MKSTREAM');
    await addEntries(`${prefix}.b`, 2);
    const reports = await inspectDrain(redis, await expandDrainTargets(redis, [{ stream: `${prefix}*`, group: '*' }]));
    expect(reports.map((r) => [r.stream, r.group, r.lag])).toEqual([
      [`${prefix}.a`, 'g1', 0],
      [`${prefix}.b`, 'g2', 2],
    ]);
  });
});

describe('compareStreamIds', () => {
  it('orders ids numerically by time, then sequence', () => {
    expect(compareStreamIds('10-0', '9-5')).toBeGreaterThan(0);
    expect(compareStreamIds('5-10', '5-9')).toBeGreaterThan(0);
    expect(compareStreamIds('5-1', '5-1')).toBe(0);
    expect(compareStreamIds('0-0', '1-0')).toBeLessThan(0);
  });
});
