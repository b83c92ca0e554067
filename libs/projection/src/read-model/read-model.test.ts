import { newRotationId } from '@caracal-rotation/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { RotationFixture, asProjected, dualPlan, singleValuePlan, useTestDatabase, zonePlan, type FixtureEvent } from '../../testing/index.js';
import { applyEvents } from '../apply-events.js';
import { recordDrainEvidence, recordDrainMarks } from '../drains.js';
import { readConsistent } from './read-only.js';
import { rotationEvidence, rotationEvents } from './evidence.js';
import { getRotation, listRotations } from './rotations.js';
import { existingRotations, inFlightCounts, inFlightSubjects, materialStatus, retirementsDue, rotationsInProgress } from './status.js';
import { inFlightRotations, recentFailures, recentlyEnded } from './views.js';

// Real Postgres, a schema of this file's own, filled once with rotations in every interesting state.
const db = useTestDatabase('proj_read');

const project = (f: RotationFixture, events: FixtureEvent[]) => applyEvents(db.pool(), events.map((e) => asProjected(f, e)));

const completedKek = new RotationFixture({ plan: dualPlan(), newKid: '1111111111111111' });
const waitingKek = new RotationFixture({ plan: dualPlan({ safety_window_ms: 3_600_000 }), newKid: '2222222222222222' });
const requestedAt = (hour: number) => ({ actor: 'alice@ops', reason: 'quarterly rotation', requested_at: `2026-06-01T${hour}:00:00.000Z` });
const rollingBack = new RotationFixture({ plan: singleValuePlan({ requested: requestedAt(10) }) });
const failedToken = new RotationFixture({ plan: singleValuePlan({ requested: requestedAt(11) }) });
const queuedZone = new RotationFixture({ plan: zonePlan({ zone_id: 'zone-q' }) });
const dueZone = new RotationFixture({ plan: zonePlan({ zone_id: 'zone-due' }) });
const rejected = new RotationFixture({ plan: dualPlan() });
const dryRun = new RotationFixture({ plan: singleValuePlan({ dry_run: true, requested: requestedAt(12) }) });

beforeAll(async () => {
  await project(completedKek, [...completedKek.untilRetirement(), completedKek.retiring(), ...completedKek.afterRetiring()]);
  await project(failedToken, [failedToken.requested(), failedToken.planned(), ...failedToken.phase('deploy', false), failedToken.failed('rollback', false, 'verifier', 'the rollback did not verify')]);
  await project(rejected, [rejected.requested(), rejected.rejected('duplicate_in_flight', { actor: 'alice@ops' })]);
  await project(dryRun, [dryRun.requested({ dry_run: true }), dryRun.planned({ dryRun: true })]);
  await project(waitingKek, waitingKek.untilRetirement());
  await project(rollingBack, [rollingBack.requested(), rollingBack.planned(), ...rollingBack.phase('deploy', false), rollingBack.written('rollback')]);
  await project(dueZone, dueZone.untilRetirement());
  await project(queuedZone, [queuedZone.requested(), queuedZone.queued()]);
  await recordDrainMarks(db.pool(), [waitingKek.rotationId], [{ rotationId: waitingKek.rotationId, stream: 'caracal.audit.events', group: 'audit-ingestor', mark: '5-0' }]);
  await recordDrainEvidence(db.pool(), [
    { rotationId: waitingKek.rotationId, stream: 'caracal.audit.events', group: 'audit-ingestor', mark: '5-0', pending: 2, lag: 0, drained: false, abandoned: false, idleMs: 120 },
  ]);
});

describe('rotations', () => {
  it('reads one rotation with the plan it follows', async () => {
    const r = (await getRotation(db.pool(), waitingKek.rotationId))!;
    expect(r).toMatchObject({ state: 'waiting_retirement', material: 'ZONE_KEK', newKid: '2222222222222222', actor: 'alice@ops', planRef: waitingKek.planRef });
    expect(r.plan).toEqual(waitingKek.plan);
    expect((await getRotation(db.pool(), queuedZone.rotationId))!).toMatchObject({ state: 'queued', plan: null, planRef: null, actor: queuedZone.plan.requested.actor });
    expect(await getRotation(db.pool(), newRotationId())).toBeUndefined();
    expect(await getRotation(db.pool(), "'; DROP TABLE rotations; --")).toBeUndefined();
  });

  it('lists rotations by state, material, batch and whether they are in flight, newest first', async () => {
    const ids = (rows: { rotationId: string }[]) => rows.map((r) => r.rotationId);
    expect(ids(await listRotations(db.pool(), { material: 'ZONE_KEK', limit: 10 }))).toEqual([waitingKek.rotationId, rejected.rotationId, completedKek.rotationId]);
    expect(ids(await listRotations(db.pool(), { state: 'completed', limit: 10 }))).toEqual([completedKek.rotationId]);
    expect(ids(await listRotations(db.pool(), { states: ['failed', 'rejected'], limit: 10 }))).toEqual([rejected.rotationId, failedToken.rotationId]);
    expect(ids(await listRotations(db.pool(), { inFlight: true, limit: 10 }))).toEqual([queuedZone.rotationId, dueZone.rotationId, rollingBack.rotationId, waitingKek.rotationId]);
    expect(ids(await listRotations(db.pool(), { inFlight: true, limit: 2 }))).toHaveLength(2);
    expect(await listRotations(db.pool(), { batchId: 'not-a-uuid', limit: 10 })).toEqual([]);
  });
});

describe('status', () => {
  it('gives per material the current kid, its age and the latest rotation', async () => {
    const status = await materialStatus(db.pool());
    const kek = status.find((s) => s.material === 'ZONE_KEK')!;
    expect(kek).toMatchObject({ latestRotationId: waitingKek.rotationId, latestState: 'waiting_retirement', currentRotationId: completedKek.rotationId, currentKid: '1111111111111111' });
    expect(kek.materialAgeSeconds).toBeGreaterThanOrEqual(0);
    // Latest by request time: the dry run was requested last, but a dry run is never the latest rotation.
    const token = status.find((s) => s.material === 'CARACAL_ADMIN_TOKEN')!;
    expect(token).toMatchObject({ latestRotationId: failedToken.rotationId, latestState: 'failed', currentKid: null, materialAgeSeconds: null });
    expect(status.filter((s) => s.material === 'ZONE_SIGNING_KEY').map((s) => s.zoneId)).toEqual(['zone-due', 'zone-q']);
  });

  it('counts rotations in flight per material and state, and those past their window', async () => {
    const counts = await inFlightCounts(db.pool());
    expect(counts.map(({ material, state, count }) => `${material}/${state}/${count}`).sort()).toEqual([
      'CARACAL_ADMIN_TOKEN/rolling_back/1',
      'ZONE_KEK/waiting_retirement/1',
      'ZONE_SIGNING_KEY/queued/1',
      'ZONE_SIGNING_KEY/waiting_retirement/1',
    ]);
    expect(Object.fromEntries(await rotationsInProgress(db.pool()))).toEqual({ CARACAL_ADMIN_TOKEN: 1, ZONE_KEK: 1, ZONE_SIGNING_KEY: 2 });
    // The zone key's window is zero; the KEK's is an hour.
    expect(await retirementsDue(db.pool())).toBe(1);
    expect((await inFlightSubjects(db.pool())).map((s) => `${s.material}/${s.zoneId ?? ''}`).sort()).toEqual([
      'CARACAL_ADMIN_TOKEN/',
      'ZONE_KEK/',
      'ZONE_SIGNING_KEY/zone-due',
      'ZONE_SIGNING_KEY/zone-q',
    ]);
    const unknown = newRotationId();
    expect(await existingRotations(db.pool(), [dryRun.rotationId, unknown])).toEqual(new Set([dryRun.rotationId]));
  });
});

describe('in flight, with the path libs/lifecycle draws', () => {
  it('marks the steps done, the current one and those ahead', async () => {
    const flying = await inFlightRotations(db.pool(), { limit: 10 });
    // Newest request first (the token's request is dated in June).
    expect(flying.map((f) => f.rotation.rotationId)).toEqual([queuedZone.rotationId, dueZone.rotationId, waitingKek.rotationId, rollingBack.rotationId]);

    const kek = flying.find((f) => f.rotation.rotationId === waitingKek.rotationId)!;
    expect(kek.path.map((s) => `${s.key}:${s.status}`)).toEqual([
      'planned:done',
      'written:stage:done',
      'rolled:stage:done',
      'verified:stage:done',
      'written:deploy:done',
      'rolled:deploy:done',
      'verified:deploy:done',
      'retiring:current',
      'written:retire:pending',
      'rolled:retire:pending',
      'verified:retire:pending',
    ]);
    expect(kek.path.find((s) => s.key === 'retiring')!.label).toMatch(/3600 s window and the drain gate|window/);
    expect(kek.path.filter((s) => s.at !== null)).toHaveLength(7);

    const back = flying.find((f) => f.rotation.rotationId === rollingBack.rotationId)!;
    expect(back.path.map((s) => `${s.key}:${s.status}`)).toEqual([
      'planned:done',
      'written:deploy:done',
      'rolled:deploy:done',
      'verified:deploy:failed',
      'written:rollback:done',
      'rolled:rollback:current',
      'verified:rollback:pending',
    ]);

    // No plan yet: no path to draw.
    expect(flying.find((f) => f.rotation.rotationId === queuedZone.rotationId)!.path).toEqual([]);
  });
});

describe('evidence and history', () => {
  it('gives a rotation its events, checks and drain gate', async () => {
    const evidence = await rotationEvidence(db.pool(), waitingKek.rotationId);
    expect(evidence.events.map((e) => e.type)).toEqual((await rotationEvents(db.pool(), waitingKek.rotationId)).map((e) => e.type));
    expect(evidence.events).toHaveLength(waitingKek.untilRetirement().length);
    expect(evidence.checks.map((c) => `${c.phase}/${c.name}`)).toEqual(['stage/holders_ready', 'deploy/holders_ready', 'deploy/kek_reseal', 'deploy/kek_rows_on_new_kek']);
    expect(evidence.drains).toEqual([
      expect.objectContaining({ stream: 'caracal.audit.events', group: 'audit-ingestor', mark: '5-0', pending: 2, drained: false, abandoned: false, idleMs: 120 }),
    ]);
  });

  it('lists what ended, dry runs included, and the failures with their failing checks', async () => {
    expect((await recentlyEnded(db.pool(), { limit: 10 })).map((r) => r.rotationId).sort()).toEqual(
      [completedKek.rotationId, failedToken.rotationId, rejected.rotationId, dryRun.rotationId].sort(),
    );
    const failures = await recentFailures(db.pool(), { limit: 10 });
    expect(failures.map((f) => f.rotation.rotationId).sort()).toEqual([failedToken.rotationId, rejected.rotationId].sort());
    const token = failures.find((f) => f.rotation.rotationId === failedToken.rotationId)!;
    expect(token.rotation).toMatchObject({ failure: 'the rollback did not verify', phase: 'rollback' });
    expect(token.failedChecks.map((c) => `${c.phase}/${c.name}`)).toEqual(['deploy/holders_ready']);
  });

  it('reads several things as one consistent, read-only picture', async () => {
    const [inFlight, ended] = await readConsistent(db.pool(), async (client) => [await listRotations(client, { inFlight: true, limit: 50 }), await recentlyEnded(client, { limit: 50 })]);
    expect(inFlight.length + ended.length).toBe(8);
    await expect(readConsistent(db.pool(), (client) => client.query('DELETE FROM rotations'))).rejects.toThrow(/read-only/);
  });
});
