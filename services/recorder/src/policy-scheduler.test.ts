import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CATALOG, catalogSchema, childRotationId, stageEventId, type Catalog, type Material, type Plan } from '@caracal-rotation/contracts';
import { rotationEvents } from '@caracal-rotation/projection';
import { RotationFixture, singleValuePlan, zonePlan } from '@caracal-rotation/projection/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanDuration, policyGuardKey, schedulePolicyRotations } from './policy-scheduler.js';
import { createTestEnvironment, sleep, startTestRecorder, waitForRotation, type RunningRecorder, type TestEnvironment } from '../testing/helpers.js';

// Real Redis and Postgres (shared vitest global setup), never mocked. The
// catalog gives a few materials a max age of 200 ms, so their material is
// "too old" a moment after its rotation completed.
const MAX_AGE_MS = 200;
const POLICIES: Partial<Record<Material, number>> = {
  AUDIT_HMAC_KEY: MAX_AGE_MS,
  ZONE_SIGNING_KEY: MAX_AGE_MS,
  POSTGRES_PASSWORD: MAX_AGE_MS,
  // Has a policy, but is never rotated in these tests: never scheduled.
  ZONE_KEK: MAX_AGE_MS,
};
const catalog: Catalog = catalogSchema.parse({
  version: 2,
  materials: DEFAULT_CATALOG.materials.map(({ max_age_ms: _drop, ...m }) => ({ ...m, ...(POLICIES[m.material] ? { max_age_ms: POLICIES[m.material] } : {}) })),
});

let env: TestEnvironment;
let catalogDir: string;
let catalogPath: string;
const running: RunningRecorder[] = [];

const start = async (instance: string, tickMs = '50ms'): Promise<RunningRecorder> => {
  const rec = await startTestRecorder(env, instance, { CARACAL_CATALOG: catalogPath, POLICY_TICK_MS: tickMs });
  running.push(rec);
  return rec;
};
const stop = async (rec: RunningRecorder): Promise<void> => {
  running.splice(running.indexOf(rec), 1);
  await rec.stop();
};

interface Scheduled {
  entryId: string;
  eventId: string;
  rotationId: string;
  producer: string;
  data: Record<string, unknown>;
}
/** The requests on the stream that the scheduler emitted (signed with the bus key by a recorder). */
async function scheduled(): Promise<Scheduled[]> {
  const raw = (await env.redis.xrange(env.streams.requested, '-', '+')) as [string, string[]][];
  return raw
    .map(([entryId, flat]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
      return { entryId, eventId: f.event_id!, rotationId: f.rotation_id!, producer: f.producer!, data: JSON.parse(f.data!) as Record<string, unknown> };
    })
    .filter((e) => e.producer.startsWith('recorder/'));
}

/** A metric's value summed over the running replicas, for the series with these labels. */
async function sampleSum(name: string, labels: Record<string, string>): Promise<number> {
  let total = 0;
  for (const rec of running) {
    const metric = (await rec.runtime.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    for (const v of metric?.values ?? []) {
      if (Object.entries(labels).every(([k, want]) => v.labels[k] === want)) total += v.value;
    }
  }
  return total;
}

/** Publishes a rotation as the other stages would, through to its passing retire verification, and waits until it is projected. */
async function completedRotation(rec: RunningRecorder, plan: Partial<Plan>, rotationId?: string): Promise<RotationFixture> {
  const f = new RotationFixture({ plan: plan.material === 'ZONE_SIGNING_KEY' ? zonePlan(plan) : singleValuePlan(plan), rotationId });
  await env.publish(f, [f.requested(), f.planned(), f.written('deploy'), f.verified('retire')]);
  await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'completed');
  return f;
}

beforeAll(async () => {
  env = await createTestEnvironment('rec-policy');
  catalogDir = await mkdtemp(join(tmpdir(), 'recorder-catalog-'));
  catalogPath = join(catalogDir, 'catalog.json');
  await writeFile(catalogPath, JSON.stringify(catalog));
});

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await env?.cleanup();
  if (catalogDir) await rm(catalogDir, { recursive: true, force: true });
});

describe('humanDuration', () => {
  it('says the max age the way an operator would', () => {
    expect(humanDuration(90 * 86_400_000)).toBe('90 days');
    expect(humanDuration(86_400_000)).toBe('1 day');
    expect(humanDuration(36 * 3_600_000)).toBe('1.5 days');
    expect(humanDuration(5 * 60_000)).toBe('5 minutes');
    expect(humanDuration(200)).toBe('200 ms');
  });
});

describe('rotation policy scheduler', () => {
  it('emits exactly one request per generation of too-old material, across ticks and a restart', async () => {
    const first = await start('rec-policy-a');
    const f = await completedRotation(first, { material: 'AUDIT_HMAC_KEY' });
    const expectedId = childRotationId(f.rotationId, 'policy:AUDIT_HMAC_KEY:');

    await expect.poll(async () => (await scheduled()).length, { timeout: 10_000 }).toBe(1);
    // Many more ticks, the material older every one of them.
    await sleep(15 * 50);
    const [request, ...more] = await scheduled();
    expect(more).toEqual([]);
    expect(request).toMatchObject({
      rotationId: expectedId,
      eventId: stageEventId(expectedId, 'recorder', 'policy'),
      producer: 'recorder/rec-policy-a',
      data: { material: 'AUDIT_HMAC_KEY', reason: `policy: AUDIT_HMAC_KEY older than ${MAX_AGE_MS} ms` },
    });
    // The guard for this generation is in Redis, and the projection recorded the request.
    expect(await env.redis.get(policyGuardKey(env.streams, expectedId))).toBe(f.rotationId);
    const row = await waitForRotation(first.pool, expectedId, (r) => r.state === 'requested');
    // The planner names the actor (the schedule) when it plans; the request itself is signed with the bus key.
    expect(row).toMatchObject({ material: 'AUDIT_HMAC_KEY', actor: null, reason: `policy: AUDIT_HMAC_KEY older than ${MAX_AGE_MS} ms` });
    expect((await rotationEvents(first.pool, expectedId))[0]!.signer).toBe('bus');
    await expect
      .poll(async () => first.runtime.metrics.registry.getSingleMetricAsString('caracal_rotation_policy_requests_total'))
      .toMatch(/material="AUDIT_HMAC_KEY"[^\n]*\} 1/);

    // A restart (and a second replica beside it) emits nothing more for this generation.
    await stop(first);
    await start('rec-policy-b');
    await start('rec-policy-c');
    await sleep(15 * 50);
    expect((await scheduled()).map((s) => s.rotationId)).toEqual([expectedId]);
  });

  it('schedules the next generation once the scheduled rotation has completed and aged in turn', async () => {
    const rec = running[0]!;
    const [firstRequest] = await scheduled();
    // The scheduled rotation runs to completion (as the other stages would make it).
    await completedRotation(rec, { material: 'AUDIT_HMAC_KEY' }, firstRequest!.rotationId);
    const nextId = childRotationId(firstRequest!.rotationId, 'policy:AUDIT_HMAC_KEY:');
    await expect.poll(async () => (await scheduled()).map((s) => s.rotationId), { timeout: 10_000 }).toEqual([firstRequest!.rotationId, nextId]);
    await sleep(10 * 50);
    expect(await scheduled()).toHaveLength(2);
  });

  it('goes per zone and per role, leaves alone what is in flight or was never rotated here, and exports the age per zone', async () => {
    const rec = running[0]!;
    const before = (await scheduled()).length;
    const z1 = await completedRotation(rec, { material: 'ZONE_SIGNING_KEY', zone_id: 'zone-1' });
    const z2 = await completedRotation(rec, { material: 'ZONE_SIGNING_KEY', zone_id: 'zone-2' });
    const api = await completedRotation(rec, { material: 'POSTGRES_PASSWORD', role: 'api' });

    await expect.poll(async () => (await scheduled()).length - before, { timeout: 10_000 }).toBe(3);
    await sleep(10 * 50);
    const fresh = (await scheduled()).slice(before);
    expect(fresh).toHaveLength(3);
    expect(fresh.map((s) => s.data).sort((a, b) => String(a.zone_id ?? a.role).localeCompare(String(b.zone_id ?? b.role)))).toEqual([
      { material: 'POSTGRES_PASSWORD', role: 'api', reason: `policy: POSTGRES_PASSWORD older than ${MAX_AGE_MS} ms` },
      { material: 'ZONE_SIGNING_KEY', zone_id: 'zone-1', reason: `policy: ZONE_SIGNING_KEY older than ${MAX_AGE_MS} ms` },
      { material: 'ZONE_SIGNING_KEY', zone_id: 'zone-2', reason: `policy: ZONE_SIGNING_KEY older than ${MAX_AGE_MS} ms` },
    ]);
    expect(new Set(fresh.map((s) => s.rotationId))).toEqual(
      new Set([
        childRotationId(z1.rotationId, 'policy:ZONE_SIGNING_KEY:zone-1'),
        childRotationId(z2.rotationId, 'policy:ZONE_SIGNING_KEY:zone-2'),
        childRotationId(api.rotationId, 'policy:POSTGRES_PASSWORD:api'),
      ]),
    );
    // ZONE_KEK has a policy but no completed rotation: never scheduled.
    expect(fresh.some((s) => s.data.material === 'ZONE_KEK')).toBe(false);

    const age = await rec.runtime.metrics.registry.getSingleMetricAsString('caracal_rotation_material_age_seconds');
    await expect
      .poll(async () => rec.runtime.metrics.registry.getSingleMetricAsString('caracal_rotation_material_age_seconds'))
      .toMatch(/material="ZONE_SIGNING_KEY",zone="zone-2"/);
    expect(age).toMatch(/material="AUDIT_HMAC_KEY",zone=""/);
    // Each replica counts what it projected; together, every completion once.
    expect(await sampleSum('caracal_rotation_rotations_total', { material: 'ZONE_SIGNING_KEY', outcome: 'completed' })).toBe(2);
  });

  it('never emits twice for a generation even before the projection has recorded the request (the Redis guard)', async () => {
    await Promise.all([...running].map(stop));
    const manual = await start('rec-policy-manual', '0');
    const f = await completedRotation(manual, { material: 'POSTGRES_PASSWORD', role: 'sts' });
    // From here on nothing projects: only the Redis guard stands between passes.
    await manual.recorder.stop();
    await sleep(MAX_AGE_MS + 50);

    const deps = {
      pool: manual.pool,
      redis: env.redis,
      publisher: manual.runtime.publisher,
      streams: env.streams,
      catalog,
      logger: { info: () => undefined, warn: () => undefined, debug: () => undefined },
      batchSize: 100,
      guardTtlMs: 60_000,
    };
    const id = childRotationId(f.rotationId, 'policy:POSTGRES_PASSWORD:sts');
    const passes = await Promise.all([schedulePolicyRotations(deps), schedulePolicyRotations(deps), schedulePolicyRotations(deps)]);
    expect(passes.flat().map((p) => p.rotationId)).toEqual([id]);
    expect(await schedulePolicyRotations(deps)).toEqual([]);
    expect((await scheduled()).filter((s) => s.rotationId === id)).toHaveLength(1);
    expect(await env.redis.ttl(policyGuardKey(env.streams, id))).toBeGreaterThan(50);
  });

  it('removes the guard when the publish fails, so a later pass emits the request', async () => {
    const manual = running[0]!;
    const f = await (async () => {
      // Projected by a short-lived replica, then nothing consumes again.
      const projector = await start('rec-policy-projector', '0');
      const fixture = await completedRotation(projector, { material: 'ZONE_SIGNING_KEY', zone_id: 'zone-9' });
      await stop(projector);
      return fixture;
    })();
    await sleep(MAX_AGE_MS + 50);
    const base = {
      pool: manual.pool,
      redis: env.redis,
      streams: env.streams,
      catalog,
      logger: { info: () => undefined, warn: () => undefined, debug: () => undefined },
      batchSize: 100,
      guardTtlMs: 60_000,
    };
    const id = childRotationId(f.rotationId, 'policy:ZONE_SIGNING_KEY:zone-9');
    const failing = { publish: async () => Promise.reject(new Error('redis went away')) };
    await expect(schedulePolicyRotations({ ...base, publisher: failing })).rejects.toThrow('redis went away');
    expect(await env.redis.exists(policyGuardKey(env.streams, id))).toBe(0);
    expect((await schedulePolicyRotations({ ...base, publisher: manual.runtime.publisher })).map((p) => p.rotationId)).toEqual([id]);
  });
});
