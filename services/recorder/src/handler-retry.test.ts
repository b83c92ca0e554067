import { deadLetterStream } from '@caracal-rotation/contracts';
import { RotationFixture } from '@caracal-rotation/projection/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, startTestRecorder, waitForRotation, type RunningRecorder, type TestEnvironment } from '../testing/helpers.js';

// Real Redis and Postgres. The projection is made to fail by renaming a table
// within this file's own schema, as an outage would: the handler throws.
let env: TestEnvironment;
let rec: RunningRecorder;

beforeAll(async () => {
  env = await createTestEnvironment('rec-retry');
  // A low delivery limit would dead-letter during the outage; the recorder's default is high.
  rec = await startTestRecorder(env, 'rec-a');
});

afterAll(async () => {
  await rec?.stop();
  await env?.cleanup();
});

async function deliveriesOf(stream: string, entryId: string): Promise<number> {
  const rows = (await env.redis.xpending(stream, 'recorder', entryId, entryId, 1)) as [string, string, number, number][];
  return rows[0] ? Number(rows[0][3]) : 0;
}

describe('a failing projection', () => {
  it('leaves the entry pending and retries it, never dead-lettering it', async () => {
    expect(rec.config.MAX_DELIVERIES).toBe(1_000);
    await rec.pool.query('ALTER TABLE rotation_events RENAME TO rotation_events_offline');
    const f = new RotationFixture();
    const [entryId] = await env.publish(f, [f.planned()]);

    await expect.poll(() => deliveriesOf(env.streams.planned, entryId!), { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(3);
    expect(await env.redis.xlen(deadLetterStream(env.streams.planned))).toBe(0);

    await rec.pool.query('ALTER TABLE rotation_events_offline RENAME TO rotation_events');
    await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'planned');
    await expect.poll(() => deliveriesOf(env.streams.planned, entryId!), { timeout: 5_000 }).toBe(0);
    expect(await env.redis.xlen(deadLetterStream(env.streams.planned))).toBe(0);
  });
});
