import { dualPlan, RotationFixture } from '@caracal-rotation/projection/testing';
import { rotationEvents } from '@caracal-rotation/projection';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestEnvironment, startTestRecorder, waitForRotation, type RunningRecorder, type TestEnvironment } from '../testing/helpers.js';

// Caracal's Redis apart from the bus (another database index of the test server).
let env: TestEnvironment;
let rec: RunningRecorder;
beforeAll(async () => {
  env = await createTestEnvironment('rec-announce', { ownCaracalRedis: true });
  rec = await startTestRecorder(env, 'rec-announce');
});
afterAll(async () => {
  await rec?.stop();
  await env?.cleanup();
});

describe("the completed announcement on Caracal's Redis", () => {
  it('is recorded with the rotation, signed by Caracal’s key, although the bus never carries it', async () => {
    const f = new RotationFixture({ plan: dualPlan({ safety_window_ms: 0 }) });
    await env.publish(f, [...f.untilRetirement(), f.retiring(), ...f.afterRetiring()]);
    await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'completed');
    expect(await env.redis.exists(env.streams.completed)).toBe(0);
    const announced = await vi.waitFor(
      async () => {
        const found = (await rotationEvents(rec.pool, f.rotationId)).find((e) => e.type === 'rotation.completed');
        expect(found).toBeDefined();
        return found!;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(announced.signer).toBe('caracal');
  });
});
