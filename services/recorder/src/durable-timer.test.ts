import { stageEventId } from '@caracal-rotation/contracts';
import { rotationEvents } from '@caracal-rotation/projection';
import { RotationFixture, samplePlan } from '@caracal-rotation/projection/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retireDueRotations } from './retirement-timer.js';
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

const retiringOf = async (rotationId: string) =>
  (await env.entries(env.streams.retiring)).filter((e) => e.eventId === stageEventId(rotationId, 'recorder', 'retire'));

describe('retirement timer', () => {
  it('survives a restart between the deploy verification and the end of the window', async () => {
    const first = await startTestRecorder(env, 'rec-first');
    const f = new RotationFixture({ plan: samplePlan({ safety_window_ms: 1_500 }) });
    await env.publish(f.untilRetirement());
    await waitForRotation(first.pool, f.rotationId, (r) => r.state === 'waiting_retirement');
    await first.stop();

    await sleep(2_000);
    expect(await retiringOf(f.rotationId)).toEqual([]);

    const second = await startTestRecorder(env, 'rec-second');
    running.push(second);
    await waitForRotation(second.pool, f.rotationId, (r) => r.state === 'retiring');
    await sleep(500);
    expect(await retiringOf(f.rotationId)).toHaveLength(1);
  });

  it('republishes the same event id when the commit after a publish fails, and records it once', async () => {
    // Timer off (long tick) so this test drives the passes itself.
    const manual = await startTestRecorder(env, 'rec-manual', { RETIREMENT_TICK_MS: '1h' });
    running.push(manual);
    await running[0]!.recorder.stop();

    const f = new RotationFixture();
    await env.publish(f.untilRetirement());
    await waitForRotation(manual.pool, f.rotationId, (r) => r.state === 'waiting_retirement');
    // Nothing projects the published `retiring` until the end, so only the timer's own commit moves the row.
    await manual.recorder.stop();

    const deps = { pool: manual.pool, redis: manual.runtime.redis, streams: env.streams, logger: manual.runtime.logger, batchSize: 50 };
    const publishThenFail = {
      publishAll: async (...args: Parameters<typeof manual.runtime.publisher.publishAll>) => {
        await manual.runtime.publisher.publishAll(...args);
        throw new Error('connection lost before commit');
      },
    };
    expect(await retireDueRotations({ ...deps, publisher: publishThenFail })).toBe(0);
    expect((await waitForRotation(manual.pool, f.rotationId, () => true)).state).toBe('waiting_retirement');
    expect(await retireDueRotations({ ...deps, publisher: manual.runtime.publisher })).toBe(1);
    expect((await waitForRotation(manual.pool, f.rotationId, () => true)).state).toBe('retiring');
    expect(await retireDueRotations({ ...deps, publisher: manual.runtime.publisher })).toBe(0);

    const published = await retiringOf(f.rotationId);
    expect(published).toHaveLength(2);
    expect(new Set(published.map((p) => p.eventId)).size).toBe(1);

    running.push(await startTestRecorder(env, 'rec-late', { RETIREMENT_TICK_MS: '1h' }));
    await expect
      .poll(async () => (await rotationEvents(manual.pool, f.rotationId)).map((e) => e.type), { timeout: 10_000 })
      .toContain('rotation.retiring');
    await sleep(300);
    expect((await rotationEvents(manual.pool, f.rotationId)).filter((e) => e.type === 'rotation.retiring')).toHaveLength(1);
  });
});
