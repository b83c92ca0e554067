import { deadLetterStream, retiringDataSchema, stageEventId } from '@caracal-rotation/contracts';
import { rotationChecks, rotationEvents, rotationDrains } from '@caracal-rotation/projection';
import { RotationFixture } from '@caracal-rotation/projection/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionReadiness } from './readiness.js';
import { createTestEnvironment, sleep, startTestRecorder, waitForRotation, type RunningRecorder, type TestEnvironment } from '../testing/helpers.js';

// Real Redis and Postgres (from the shared vitest global setup), never mocked.
let env: TestEnvironment;
let rec: RunningRecorder;

beforeAll(async () => {
  env = await createTestEnvironment('rec-projection');
  rec = await startTestRecorder(env, 'rec-a');
});

afterAll(async () => {
  await rec?.stop();
  await env?.cleanup();
});

/** Waits until the recorder's group has acknowledged everything on `stream`. */
async function drainedByRecorder(stream: string): Promise<void> {
  await expect
    .poll(async () => {
      const [group] = ((await env.redis.xinfo('GROUPS', stream)) as unknown[][]).filter((g) => g[1] === 'recorder');
      const info = Object.fromEntries(Array.from({ length: group!.length / 2 }, (_, i) => [group![2 * i], group![2 * i + 1]]));
      return Number(info.pending) + Number(info.lag ?? 0);
    }, { timeout: 10_000 })
    .toBe(0);
}

describe('recorder', () => {
  const f = new RotationFixture();

  it('projects a whole rotation, emitting retiring after the window, into a completed row', async () => {
    await env.publish(f.untilRetirement());
    await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'retiring');

    const retiring = await env.entries(env.streams.retiring);
    expect(retiring).toHaveLength(1);
    expect(retiring[0]!.eventId).toBe(stageEventId(f.rotationId, 'recorder', 'retire'));
    const data = retiringDataSchema.parse(retiring[0]!.data);
    expect(data).toMatchObject({ material: 'AUDIT_HMAC_KEY', new: { kid: f.newKid }, previous: { kid: f.previousKid } });
    // Its own streams are part of the drain set, every one of them drained.
    expect(data.drain.map((d) => d.stream)).toContain(env.streams.rolled);
    expect(data.drain.every((d) => d.pending === 0)).toBe(true);

    await env.publish(f.afterRetiring());
    const row = await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'completed');
    expect(row).toMatchObject({
      material: 'AUDIT_HMAC_KEY',
      actor: 'alice',
      reason: 'quarterly rotation',
      ticket: 'SEC-1',
      emergency: false,
      newKid: f.newKid,
      previousKid: f.previousKid,
      secretLocation: '/run/secrets/auditHmacKey',
      failure: null,
      rolledBack: false,
    });
    for (const column of ['requestedAt', 'completedAt', 'retireAfter', 'retiredAt'] as const) expect(row[column], column).not.toBeNull();
    await drainedByRecorder(env.streams.completed);
    // 8 published before retirement, the recorder's own retiring, 4 after.
    expect(await rotationEvents(rec.pool, f.rotationId)).toHaveLength(13);
    expect((await rotationChecks(rec.pool, f.rotationId)).length).toBeGreaterThan(0);
    expect((await rotationDrains(rec.pool, f.rotationId)).every((d) => d.drained && d.checkedAt !== null)).toBe(true);
  });

  it('ignores a duplicate event, even one whose bus de-duplication was lost', async () => {
    const before = await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'completed');
    await env.publish([f.planned(), f.verified('deploy')]);
    // As if the recorder had crashed after its commit, before the bus marked the event seen.
    // (The bus's key layout has been `<stream>:seen:<group>:<id>` and is now `seen:<stream>:<group>:<id>`.)
    const seen = [...(await env.redis.keys(`seen:${env.streams.rolled}:recorder:*`)), ...(await env.redis.keys(`${env.streams.rolled}:seen:recorder:*`))];
    expect(seen.length).toBeGreaterThan(0);
    await env.redis.del(...seen);
    await env.publish([f.rolled('deploy')]);
    for (const s of [env.streams.planned, env.streams.verified, env.streams.rolled]) await drainedByRecorder(s);

    expect(await waitForRotation(rec.pool, f.rotationId, () => true)).toEqual(before);
    expect(await rotationEvents(rec.pool, f.rotationId)).toHaveLength(13);
    expect(await env.entries(env.streams.retiring)).toHaveLength(1);
    for (const s of [env.streams.planned, env.streams.verified, env.streams.rolled]) expect(await env.redis.xlen(deadLetterStream(s))).toBe(0);
  });

  it('records an invalid request rather than dead-lettering it', async () => {
    const bad = new RotationFixture();
    await env.publish([{ ...bad.requested(), data: { material: 'NOPE', note: 'no reason given' } }]);
    const row = await waitForRotation(rec.pool, bad.rotationId, (r) => r.state === 'requested');
    expect(row.material).toBe('NOPE');
    expect(await env.redis.xlen(deadLetterStream(env.streams.requested))).toBe(0);
  });

  it('ends a failed deploy verification as failed and rolled back', async () => {
    const failing = new RotationFixture();
    await env.publish(failing.rolledBack());
    const row = await waitForRotation(rec.pool, failing.rotationId, (r) => r.state === 'failed');
    expect(row).toMatchObject({ rolledBack: true, failure: 'deploy verification failed', retireAfter: null });
    await sleep(300);
    expect((await env.entries(env.streams.retiring)).filter((e) => e.eventId === stageEventId(failing.rotationId, 'recorder', 'retire'))).toEqual([]);
  });

  it('reports ready and exports its gauges', async () => {
    expect(await projectionReadiness(rec.pool)).toEqual({ ok: true });
    await expect
      .poll(async () => (await rec.runtime.metrics.registry.getSingleMetricAsString('caracal_rotation_material_age_seconds')), { timeout: 5_000 })
      .toMatch(/material="AUDIT_HMAC_KEY"/);
    expect(await rec.runtime.metrics.registry.getSingleMetricAsString('caracal_rotation_in_progress')).toMatch(/material="AUDIT_HMAC_KEY"[^\n]*\} 0/);
  });
});
