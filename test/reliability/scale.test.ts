import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { keysMemory, mib, reportedHeap, residentMemory } from '../support/process-memory.js';
import { minutes, PROFILE } from './profile.js';
import { seconds, Section } from './report.js';

/**
 * A request for every zone of a deployment with a hundred thousand zones.
 * The planner lists zones through Caracal's API a page at a time and plans
 * the batch a chunk at a time, keeping its progress in Redis: its memory
 * must not grow with the number of zones, and the bus must hold the batch in
 * a bounded number of bytes per zone.
 */

const section = new Section('scale');

/**
 * The planner holds one chunk of zones at a time, so what it grows by while planning is V8
 * sizing its heap to the allocation rate, not the zones: a 20,000-zone request grew it by
 * 75 MiB, 100,000-zone ones by 84 to 100 MiB (this suite, 2 cores, other files beside it),
 * and its heap in use fell back below where it started once the batch was planned.
 */
const PLANNER_GROWTH_TARGET = 160 * 2 ** 20;
/** Growth over the last four fifths of the zones: a planner that kept ~600 bytes per zone would add 48 MiB there. */
const PLANNER_TAIL_GROWTH_TARGET = 48 * 2 ** 20;
/** Bytes of bus Redis per zone of a batch in flight: its `planned` entry, its subject in the class lock and its in-flight record. */
const BUS_BYTES_PER_ZONE_TARGET = 1536;

let e: E2E;

beforeAll(async () => {
  e = await startE2E('scale');
}, minutes(3));

afterAll(async () => {
  try {
    await e?.stop();
  } finally {
    await section.write();
  }
}, minutes(3));

/**
 * Caracal's API lists the rows of its `zones` table (apps/api/src/routes/zones.ts): seeding
 * rows there is what creating zones through `POST /v1/zones` leaves behind, without a hundred
 * thousand HTTP round trips. Each row gets its own millisecond, as zones created one by one
 * would: the API's keyset cursor carries a millisecond timestamp.
 */
async function seedZones(count: number): Promise<number> {
  const admin = new pg.Client({ connectionString: (await readFile(e.sandbox.postgres.admin_url_file, 'utf8')).trim() });
  await admin.connect();
  try {
    await admin.query(
      `INSERT INTO zones (id, name, slug, created_at, updated_at, created_by)
       SELECT gen_random_uuid()::text, 'scale zone ' || g, 'scale-zone-' || g, t0 - g * interval '1 millisecond', t0 - g * interval '1 millisecond', 'reliability-seed'
         FROM generate_series(1, $1::int) AS g, (SELECT date_trunc('milliseconds', now()) - interval '1 day' AS t0) AS t`,
      [count],
    );
    const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM zones WHERE archived_at IS NULL AND NOT (lower(name) LIKE 'caracal.sys/%' OR lower(slug) LIKE 'caracal-sys-%')`);
    return Number(rows[0]!.n);
  } finally {
    await admin.end();
  }
}

it('plans a 100,000-zone request with bounded planner memory and bounded bus memory', () =>
  section.run(async () => {
    const seeded = Date.now();
    const listed = await seedZones(PROFILE.scaleZones);
    const seedMs = Date.now() - seeded;
    // Only the planning is measured: the stages that would rotate every zone's key are stopped, so the batch stays in flight on the bus, unconsumed (the most it can weigh).
    for (const name of ['secret-writer', 'roller', 'verifier'] as const) for (const p of e.stack.instances(name)) await p.stop();
    const planner = e.stack.instances('planner')[0]!;
    const before = await residentMemory(planner.pid!);
    const heapBefore = await reportedHeap(planner.url);
    let heapPeak = heapBefore.usedBytes;
    const busBefore = await keysMemory(e.redis, e.prefix);

    section.tried(
      `On one replica of each service: inserted ${PROFILE.scaleZones.toLocaleString('en')} zones into the \`zones\` table of the replica's Postgres (the table Caracal's GET /v1/zones lists; ${seconds(seedMs)}), so Caracal's API lists ${listed.toLocaleString('en')} zones; stopped the secret-writer, roller and verifier (nothing rotates: only the planning is measured, and every planned child stays on the bus); requested ZONE_SIGNING_KEY with \`zone_id: "*"\`; sampled the planner's resident memory every 250 ms and weighed the test's bus keys in Redis (MEMORY USAGE of each).`,
    );
    section.note(
      'Why seed rows instead of calling POST /v1/zones 100,000 times: the planner reads zones only through GET /v1/zones, which reads that table; the rows carry the columns the API sets and one millisecond each, as zones created one by one would (the API\'s keyset cursor is a millisecond timestamp). An explicit `zone_ids` list of 100,000 would be capped by the request size (4 MiB) and skip the paging this scenario exercises.',
    );

    const started = Date.now();
    const batchId = await e.operator.request({ material: 'ZONE_SIGNING_KEY', zone_id: '*', reason: 'reliability: every zone' });
    let peakRss = before.rssBytes;
    let peakBus = busBefore.total;
    let lastBusCheck = 0;
    /** The planner's peak when a fifth of the zones were planned. */
    let peakAtFifth: number | undefined;
    const progressKey = `{${e.prefix}}:batch:${batchId}`;
    let parent: { name: string; data: Record<string, unknown> } | undefined;
    const planned = `${e.prefix}.planned`;
    const rejected = `${e.prefix}.rejected`;
    const deadline = Date.now() + minutes(PROFILE.scaleZones / 20_000 + 2);
    while (!parent && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      peakRss = Math.max(peakRss, (await residentMemory(planner.pid!)).rssBytes);
      heapPeak = Math.max(heapPeak, (await reportedHeap(planner.url)).usedBytes);
      if (peakAtFifth === undefined && Number((await e.redis.hget(progressKey, 'index')) ?? 0) >= listed / 5) peakAtFifth = peakRss;
      if (Date.now() - lastBusCheck > 5000) {
        peakBus = Math.max(peakBus, (await keysMemory(e.redis, e.prefix)).total);
        lastBusCheck = Date.now();
      }
      for (const [stream, name] of [[planned, 'planned'], [rejected, 'rejected']] as const) {
        const [last] = (await e.redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as [string, string[]][];
        const fields = last ? Object.fromEntries(last[1].flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]!]] : []))) : {};
        if (fields.rotation_id === batchId) parent = { name, data: JSON.parse(fields.data ?? '{}') as Record<string, unknown> };
      }
    }
    const planMs = Date.now() - started;
    const after = await residentMemory(planner.pid!);
    const heapAfter = await reportedHeap(planner.url);
    const bus = await keysMemory(e.redis, e.prefix);
    peakBus = Math.max(peakBus, bus.total);
    peakRss = Math.max(peakRss, after.rssBytes);

    // Every child's planned entry, read back in pages: each zone once.
    const zones = new Set<string>();
    let children = 0;
    let cursor = '-';
    for (;;) {
      const page = (await e.redis.xrange(planned, cursor, '+', 'COUNT', 5000)) as [string, string[]][];
      for (const [, flat] of page) {
        const data = JSON.parse(flat[flat.indexOf('data') + 1]!) as { batch_id?: string; zone_id?: string };
        if (data.batch_id === batchId && data.zone_id) {
          children += 1;
          zones.add(data.zone_id);
        }
      }
      if (page.length < 5000) break;
      cursor = `(${page[page.length - 1]![0]}`;
    }
    const progress = await e.redis.hgetall(progressKey);
    const perZone = (peakBus - busBefore.total) / Math.max(1, children);
    // VmHWM catches a peak between two samples; it only counts when it rose during the planning (else it is the start's).
    const peak = after.peakBytes > before.peakBytes ? Math.max(peakRss, after.peakBytes) : peakRss;
    const growth = peak - before.rssBytes;
    const tailGrowth = peak - (peakAtFifth ?? before.rssBytes);
    const biggest = Object.entries(bus.byKey)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5);
    const recorder = e.stack.instances('recorder')[0]!;
    const projected = Number((await e.pool.query<{ n: string }>('SELECT count(*) AS n FROM rotations WHERE batch_id = $1', [batchId])).rows[0]!.n);

    section
      .figure('zones Caracal lists', listed.toLocaleString('en'))
      .figure('outcome of the request', parent ? `${parent.name}${parent.name === 'planned' ? ` (batch of ${String((parent.data.batch as { zones?: number } | undefined)?.zones)})` : `: ${String(parent.data.reason_code)}`}` : 'no answer in time')
      .figure('children planned / distinct zones', `${children.toLocaleString('en')} / ${zones.size.toLocaleString('en')}`)
      .figure('planning time (request → the batch’s own planned)', seconds(planMs))
      .figure('planning rate', `${Math.round(children / (planMs / 1000)).toLocaleString('en')} zones/s`)
      .figure('batch progress kept in Redis', JSON.stringify(progress))
      .figure('planner resident memory before / peak while planning / after', `${mib(before.rssBytes)} / ${mib(peak)} / ${mib(after.rssBytes)}`)
      .figure('planner growth while planning (target)', `${mib(growth)} (≤ ${mib(PLANNER_GROWTH_TARGET)})`)
      .figure('of which over the last four fifths of the zones (target)', `${mib(tailGrowth)} (≤ ${mib(PLANNER_TAIL_GROWTH_TARGET)})`)
      .figure('planner VmHWM (peak since its start) before / after', `${mib(before.peakBytes)} / ${mib(after.peakBytes)}`)
      .figure('planner V8 heap used before / peak sampled / after (its /metrics)', `${mib(heapBefore.usedBytes)} / ${mib(heapPeak)} / ${mib(heapAfter.usedBytes)}`)
      .figure('bus keys of the test before / after', `${mib(busBefore.total)} / ${mib(bus.total)} (${Object.keys(bus.byKey).length} keys)`)
      .figure('bus bytes per planned zone (target)', `${Math.round(perZone)} B (≤ ${BUS_BYTES_PER_ZONE_TARGET} B)`)
      .figure('largest bus keys', biggest.map(([k, v]) => `${k.replace(e.prefix, '<prefix>')} ${mib(v)}`).join('; '))
      .figure('recorder meanwhile: children projected when planning ended / its resident memory', `${projected.toLocaleString('en')} / ${mib((await residentMemory(recorder.pid!)).rssBytes)}`);
    section.note(
      `Targets: the planner holds one chunk of zones at a time (BATCH_CHUNK, at most 500, one API page), so it may not grow by more than ${mib(PLANNER_GROWTH_TARGET)} however many zones (V8 sizes its heap to the allocation rate: a 20,000-zone request grew it by 75 MiB, 100,000-zone ones by 84 to 100 MiB in this suite, and the heap in use falls back once the batch is planned), and by at most ${mib(PLANNER_TAIL_GROWTH_TARGET)} over the last four fifths of the zones (what keeping ~600 bytes per zone would add); the bus holds, per zone of a batch in flight, one \`planned\` entry (its plan is stored once, referenced by id and hash), one subject in the class lock and one in-flight record: ${BUS_BYTES_PER_ZONE_TARGET} bytes per zone bounds 100,000 zones to ${mib(BUS_BYTES_PER_ZONE_TARGET * 100_000)}. Redis is shared with other test runs, so the bus is weighed key by key (MEMORY USAGE of the test's keys), not with INFO.`,
    );
    expect(parent?.name).toBe('planned');
    expect(children).toBe(listed);
    expect(zones.size).toBe(listed);
    expect(growth).toBeLessThanOrEqual(PLANNER_GROWTH_TARGET);
    expect(tailGrowth).toBeLessThanOrEqual(PLANNER_TAIL_GROWTH_TARGET);
    expect(perZone).toBeLessThanOrEqual(BUS_BYTES_PER_ZONE_TARGET);
  }), minutes(PROFILE.scaleZones / 20_000 + 5));
