import { stageEventId } from '@caracal-rotation/contracts';
import { rotationEvents } from '@caracal-rotation/projection';
import { RotationFixture, singleValuePlan, zonePlan } from '@caracal-rotation/projection/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retireDueRotations, type RetirementDeps } from './retirement-timer.js';
import { StreamHomes } from './stream-homes.js';
import { createTestEnvironment, sleep, startTestRecorder, waitForRotation, type RunningRecorder, type TestEnvironment } from '../testing/helpers.js';

// Real Redis and Postgres; the timer's only state is the projection.
let env: TestEnvironment;
const running: RunningRecorder[] = [];

beforeAll(async () => {
  env = await createTestEnvironment('rec-timer');
});

afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await env?.cleanup();
});

const start = async (instance: string, overrides: Record<string, string> = {}) => {
  const r = await startTestRecorder(env, instance, overrides);
  running.push(r);
  return r;
};

const retiringOf = async (rotationId: string) => (await env.entries(env.streams.retiring)).filter((e) => e.eventId === stageEventId(rotationId, 'recorder', 'retire'));

describe('retirement timer', () => {
  it('survives a restart between the deploy verification and the end of the window', async () => {
    const first = await start('rec-first');
    const f = new RotationFixture({ plan: singleValuePlan({ safety_window_ms: 1_000 }) });
    await env.publish(f, f.untilRetirement());
    const waiting = await waitForRotation(first.pool, f.rotationId, (r) => r.state === 'waiting_retirement');
    await first.stop();

    // The window ends while no recorder runs.
    while (Date.now() < Date.parse(waiting.retireAfter!) + 200) await sleep(50);
    expect(await retiringOf(f.rotationId)).toEqual([]);

    const second = await start('rec-second');
    await waitForRotation(second.pool, f.rotationId, (r) => r.state === 'retiring');
    expect(await retiringOf(f.rotationId)).toHaveLength(1);
  });

  it('publishes one retiring per rotation with two recorders running', async () => {
    await Promise.all(running.map((r) => r.stop()));
    running.length = 0;
    const [a, b] = await Promise.all([start('rec-a'), start('rec-b')]);
    const fixtures = Array.from({ length: 25 }, (_, i) => new RotationFixture({ plan: zonePlan({ zone_id: `zone-${i}` }) }));
    for (const f of fixtures) await env.publish(f, f.untilRetirement());
    for (const f of fixtures) await waitForRotation(a.pool, f.rotationId, (r) => r.state === 'retiring');
    for (const f of fixtures) expect(await retiringOf(f.rotationId), f.rotationId).toHaveLength(1);
    const { rows } = await b.pool.query<{ publications: number }>('SELECT publications FROM rotation_retirements WHERE rotation_id = ANY ($1::uuid[])', [
      fixtures.map((f) => f.rotationId),
    ]);
    expect(rows.map((r) => r.publications)).toEqual(fixtures.map(() => 1));
  });

  it('publishes again, with the same event id, what it could not publish or what never got projected', async () => {
    // A recorder whose timer and consumer are stopped: the test drives the passes and nothing projects `retiring`.
    await Promise.all(running.map((r) => r.stop()));
    running.length = 0;
    const manual = await start('rec-manual', { RETIREMENT_TICK_MS: '1h' });
    const f = new RotationFixture({ plan: zonePlan({ zone_id: 'zone-manual' }) });
    await env.publish(f, f.untilRetirement());
    await waitForRotation(manual.pool, f.rotationId, (r) => r.state === 'waiting_retirement');
    await manual.recorder.stop();

    const deps: RetirementDeps = {
      pool: manual.pool,
      homes: new StreamHomes(manual.runtime.redis, manual.runtime.caracalRedis, env.streams),
      publisher: manual.runtime.publisher,
      streams: env.streams,
      logger: manual.runtime.logger,
      batchSize: 50,
      abandonAfterMs: 60_000,
      republishAfterMs: 3_600_000,
    };
    const failing = { publishAll: async () => Promise.reject(new Error('connection lost')) };
    expect(await retireDueRotations({ ...deps, publisher: failing })).toBe(0);
    expect(await retireDueRotations(deps)).toBe(1);
    // Published, not yet projected: left alone until the republish bound.
    expect(await retireDueRotations(deps)).toBe(0);
    expect(await retireDueRotations({ ...deps, republishAfterMs: 0 })).toBe(1);

    const published = await retiringOf(f.rotationId);
    expect(published).toHaveLength(2);
    expect(new Set(published.map((p) => p.eventId)).size).toBe(1);

    // Projected once, however many copies.
    const late = await start('rec-late', { RETIREMENT_TICK_MS: '1h' });
    await waitForRotation(late.pool, f.rotationId, (r) => r.state === 'retiring');
    await expect.poll(async () => (await rotationEvents(late.pool, f.rotationId)).filter((e) => e.type === 'rotation.retiring').length, { timeout: 10_000 }).toBe(1);
    expect(await retireDueRotations(deps)).toBe(0);
  });
});
