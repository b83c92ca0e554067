import { childRotationId, deadLetterStream, newRotationId, retiringDataSchema, stageEventId } from '@caracal-rotation/contracts';
import { getRotation, rotationChecks, rotationDrains, rotationEvents } from '@caracal-rotation/projection';
import { RotationFixture, asRotationEvent, dualPlan, singleValuePlan, zonePlan } from '@caracal-rotation/projection/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectionReadiness } from './readiness.js';
import { OPERATOR, createTestEnvironment, sleep, startTestRecorder, waitForRotation, type RunningRecorder, type TestEnvironment } from '../testing/helpers.js';

// Real Redis and Postgres (from the shared vitest global setup), never mocked;
// events signed with the keys the stages, the operator and Caracal hold.
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

const pairs = (flat: unknown[]) => Object.fromEntries(Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]]));

/** Waits until the recorder's group has acknowledged everything on `stream`. */
async function drainedByRecorder(stream: string): Promise<void> {
  await expect
    .poll(
      async () => {
        const group = ((await env.redis.xinfo('GROUPS', stream)) as unknown[][]).map(pairs).find((g) => g.name === 'recorder')!;
        return Number(group.pending) + Number(group.lag ?? 0);
      },
      { timeout: 10_000 },
    )
    .toBe(0);
}

describe('recorder', () => {
  const f = new RotationFixture({ plan: dualPlan({ drain: [{ stream: 'never-written.audit', group: '*' }] }) });

  it('projects a whole rotation, emitting retiring after the window, into a completed row', async () => {
    await env.publish(f, f.untilRetirement());
    await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'retiring');

    const retiring = await env.entries(env.streams.retiring);
    expect(retiring).toHaveLength(1);
    expect(retiring[0]!.eventId).toBe(stageEventId(f.rotationId, 'recorder', 'retire'));
    expect(retiringDataSchema.parse(retiring[0]!.data)).toEqual({ material: 'ZONE_KEK', plan: f.planRef, drain: [], window_ended_at: expect.any(String) });

    await env.publish(f, f.afterRetiring());
    const row = await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'completed');
    expect(row).toMatchObject({ material: 'ZONE_KEK', actor: OPERATOR, reason: 'quarterly rotation', ticket: 'SEC-1', newKid: f.newKid, previousKid: f.previousKid, failure: null });
    for (const column of ['requestedAt', 'completedAt', 'retireAfter', 'retiredAt'] as const) expect(row[column], column).not.toBeNull();
    await drainedByRecorder(env.streams.completed);
    // Everything published before retirement, the recorder's own retiring, and what followed.
    // The row completes with verified(retire); the completed announcement may be projected a moment later.
    await expect.poll(async () => (await rotationEvents(rec.pool, f.rotationId)).length, { timeout: 10_000 }).toBe(f.untilRetirement().length + 1 + f.afterRetiring().length);
    const events = await rotationEvents(rec.pool, f.rotationId);
    expect(events.find((e) => e.type === 'rotation.requested')!.signer).toBe(`operator:${OPERATOR}`);
    expect(events.find((e) => e.type === 'rotation.completed')!.signer).toBe('caracal');
    expect(events.find((e) => e.type === 'rotation.retiring')!.signer).toBe('bus');
    expect((await rotationChecks(rec.pool, f.rotationId)).length).toBeGreaterThan(0);
    // The plan is in Postgres too.
    expect((await getRotation(rec.pool, f.rotationId))!.plan).toEqual(f.plan);
  });

  it('ignores a duplicate event, even one whose bus de-duplication was lost', async () => {
    const before = await waitForRotation(rec.pool, f.rotationId, (r) => r.state === 'completed');
    await env.publish(f, [f.planned(), f.verified('deploy')]);
    // The recorder projects in batches and keeps no bus de-duplication mark: the projection's
    // idempotency on event_id is what makes a re-delivered or replayed event harmless.
    expect(await env.redis.keys(`seen:${env.streams.rolled}:recorder:*`)).toEqual([]);
    await env.publish(f, [f.rolled('deploy')]);
    for (const s of [env.streams.planned, env.streams.verified, env.streams.rolled]) await drainedByRecorder(s);

    expect(await getRotation(rec.pool, f.rotationId)).toEqual(before);
    expect(await rotationEvents(rec.pool, f.rotationId)).toHaveLength(f.untilRetirement().length + 1 + f.afterRetiring().length);
    expect(await env.entries(env.streams.retiring)).toHaveLength(1);
    for (const s of [env.streams.planned, env.streams.verified, env.streams.rolled]) expect(await env.redis.xlen(deadLetterStream(s))).toBe(0);
  });

  it('records an invalid request rather than dead-lettering it', async () => {
    const bad = new RotationFixture();
    await env.publish(bad, [{ ...bad.requested(), data: { material: 'NOPE', note: 'no reason given' } }]);
    const row = await waitForRotation(rec.pool, bad.rotationId, (r) => r.state === 'requested');
    expect(row.material).toBe('NOPE');
    expect((await rotationEvents(rec.pool, bad.rotationId))[0]!.data).toEqual({ material: 'NOPE', ignored_fields: ['note'] });
    expect(await env.redis.xlen(deadLetterStream(env.streams.requested))).toBe(0);
  });

  it('takes the drain marks when the deploy restarts complete', async () => {
    const audit = `${env.prefix}-caracal.audit.events`;
    await env.redis.xgroup('CREATE', audit, 'audit-ingestor', '0', 'MKSTREAM');
    const last = (await env.redis.xadd(audit, '*', 'k', 'v'))!;
    const marked = new RotationFixture({ plan: singleValuePlan({ safety_window_ms: 3_600_000, drain: [{ stream: audit, group: '*' }] }) });
    await env.publish(marked, [marked.requested(), marked.planned(), marked.written('deploy'), marked.rolled('deploy')]);
    await expect.poll(async () => rotationDrains(rec.pool, marked.rotationId), { timeout: 10_000 }).toEqual([
      expect.objectContaining({ stream: audit, group: 'audit-ingestor', mark: last, checkedAt: null }),
    ]);
  });

  it('accepts each stream only from its signers, and ends no rotation for its own dead letters', async () => {
    const g = new RotationFixture();
    // Caracal's key may sign `completed` only; the bus key may not sign an operator's intent.
    await env.caracal.publish({ stream: env.streams.planned, name: 'planned', eventId: g.planned().eventId, rotationId: g.rotationId, data: g.planned().data });
    await env.bus.publish({ stream: env.streams.intent, name: 'intent', eventId: g.intent('abandon').eventId, rotationId: g.rotationId, data: g.intent('abandon').data });
    await env.bus.publish({ stream: env.streams.completed, name: 'completed', eventId: g.completed().eventId, rotationId: g.rotationId, data: g.completed().data });
    for (const s of [env.streams.planned, env.streams.intent, env.streams.completed]) {
      await expect.poll(async () => (await env.redis.xrange(deadLetterStream(s), '-', '+')).map(([, v]) => v[v.indexOf('error') + 1]), { timeout: 10_000 }).toEqual(['unauthorized_signer']);
    }
    // A policy's request, signed with the bus key, is accepted.
    await env.bus.publish({ stream: env.streams.requested, name: 'requested', eventId: g.requested().eventId, rotationId: g.rotationId, data: g.requested().data });
    await waitForRotation(rec.pool, g.rotationId, (r) => r.state === 'requested');
    await sleep(200);
    expect((await env.entries(env.streams.failed)).filter((e) => e.rotationId === g.rotationId)).toEqual([]);
    expect(await rotationEvents(rec.pool, g.rotationId)).toHaveLength(1);
  });

  it('ends a failed deploy verification as failed and rolled back, and never retires it', async () => {
    const failing = new RotationFixture({ plan: singleValuePlan() });
    await env.publish(failing, [
      failing.requested(),
      failing.planned(),
      ...failing.phase('deploy', false),
      ...failing.phase('rollback'),
      failing.failed('deploy', true, 'verifier', 'deploy verification failed'),
    ]);
    const row = await waitForRotation(rec.pool, failing.rotationId, (r) => r.state === 'failed');
    expect(row).toMatchObject({ rolledBack: true, failure: 'deploy verification failed', retireAfter: null });
    await sleep(300);
    expect((await env.entries(env.streams.retiring)).filter((e) => e.rotationId === failing.rotationId)).toEqual([]);
  });

  it('projects a batch handed over at once, as a batch-mode consumer would, with the marks of the plan its zones share', async () => {
    const batchId = newRotationId();
    const revoke = `${env.prefix}-caracal.sessions.revoke`;
    await env.redis.xgroup('CREATE', revoke, 'gateway-revocation:a', '0', 'MKSTREAM');
    const mark = (await env.redis.xadd(revoke, '*', 'k', 'v'))!;
    const plan = zonePlan({ zone_id: undefined, batch: { zones: 3 }, drain: [{ stream: revoke, group: '*' }] });
    const planRef = await env.plans.put(batchId, plan);
    const zones = ['z1', 'z2', 'z3'].map((zone) => new RotationFixture({ rotationId: childRotationId(batchId, zone), plan: { ...plan, zone_id: zone }, planRef, batchId }));
    const signer = { kind: 'bus' as const, kid: '0123456789abcdef', key: Buffer.alloc(32) };
    // Several events of each rotation, in reverse order, in one batch: the zones' writes complete their deploy (nothing restarts).
    const batch = zones.flatMap((z) => [z.planned(), z.written('deploy'), z.verified('deploy')]).reverse().map((e) => ({ name: e.name, event: { ...asRotationEvent(e, env.streams[e.name]), signer } }));
    const result = await rec.recorder.projector.project(batch);
    expect(result.recorded).toHaveLength(9);
    expect(result.changes.map((c) => c.to)).toEqual(['waiting_retirement', 'waiting_retirement', 'waiting_retirement']);
    for (const z of zones) {
      expect((await getRotation(rec.pool, z.rotationId))!).toMatchObject({ planId: batchId, batchId, state: expect.stringMatching(/waiting_retirement|retiring/) });
      expect((await rotationDrains(rec.pool, z.rotationId)).map((d) => d.mark)).toEqual([mark]);
    }
    expect((await rec.recorder.projector.project(batch)).duplicates).toBe(9);
  });

  it('reports ready and exports its gauges', async () => {
    expect(await projectionReadiness(rec.pool)).toEqual({ ok: true });
    const metric = (name: string) => rec.runtime.metrics.registry.getSingleMetricAsString(name);
    await expect.poll(() => metric('caracal_rotation_material_age_seconds'), { timeout: 5_000 }).toMatch(/material="ZONE_KEK"/);
    await expect.poll(() => metric('caracal_rotation_in_flight'), { timeout: 5_000 }).toMatch(/material="CARACAL_ADMIN_TOKEN",state="verifying"[^\n]*\} 1/);
    expect(await metric('caracal_rotation_rotations_total')).toMatch(/material="ZONE_KEK",outcome="completed"[^\n]*\} 1/);
    expect(await metric('caracal_rotation_rotations_total')).toMatch(/material="CARACAL_ADMIN_TOKEN",outcome="failed"[^\n]*\} 1/);
    expect(await metric('caracal_rotation_projected_events_total')).toMatch(/type="planned",outcome="recorded"/);
    await expect.poll(() => metric('caracal_rotation_stream_length'), { timeout: 5_000 }).toMatch(new RegExp(`stream="${env.streams.planned.replaceAll('.', '\\.')}"`));
  });
});
