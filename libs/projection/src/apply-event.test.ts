import { newRotationId, rotationStreams, type EventName } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { applyEvent } from './apply-event.js';
import { drainMarksOf, recordDrainEvidence } from './drains.js';
import { getRotation } from './read-rotations.js';
import { rotationChecks, rotationDrains, rotationEvents } from './read-evidence.js';
import { useTestDatabase } from '../testing/database.js';
import { RotationFixture, asRotationEvent, samplePlan, type FixtureEvent } from '../testing/index.js';

const db = useTestDatabase('proj_apply');
const streams = rotationStreams('test.rotation');

const apply = (event: FixtureEvent, occurredAt?: string) =>
  applyEvent(db.pool(), streams[event.name], asRotationEvent(event, streams[event.name], occurredAt), event.name);
const applyAll = async (events: FixtureEvent[]) => {
  for (const e of events) await apply(e);
};

/** DESIGN §6 columns of `rotations`, as the read model names them. */
const DESIGN_COLUMNS = [
  'rotationId',
  'batchId',
  'material',
  'zoneId',
  'role',
  'state',
  'actor',
  'reason',
  'ticket',
  'emergency',
  'requestedAt',
  'completedAt',
  'newKid',
  'previousKid',
  'secretLocation',
  'retireAfter',
  'retiredAt',
  'failure',
  'updatedAt',
] as const;

describe('applyEvent', () => {
  it('projects a whole rotation into a completed row with every column filled', async () => {
    const batchId = newRotationId();
    const f = new RotationFixture({
      batchId,
      plan: samplePlan({ material: 'ZONE_SIGNING_KEY', zone_id: 'zone-7', writer: 'sts-zone-key', secret: null, safety_window_ms: 60_000 }),
    });
    const events = [...f.untilRetirement().filter((e) => e.name !== 'requested'), f.retiring(), ...f.afterRetiring()];
    const verifiedAt = '2030-01-01T00:00:00.000Z';
    for (const e of events) await apply(e, e.name === 'verified' && (e.data as { phase: string }).phase === 'deploy' ? verifiedAt : undefined);

    const row = (await getRotation(db.pool(), f.rotationId))!;
    expect(row).toMatchObject({
      state: 'completed',
      batchId,
      material: 'ZONE_SIGNING_KEY',
      zoneId: 'zone-7',
      actor: 'alice',
      reason: 'quarterly rotation',
      ticket: 'SEC-1',
      emergency: false,
      dryRun: false,
      newKid: f.newKid,
      previousKid: f.previousKid,
      secretLocation: '/run/secrets/material',
      retireAfter: '2030-01-01T00:01:00.000Z',
      failure: null,
      rolledBack: false,
    });
    expect(row.requestedAt).toBe(f.plan.requested.requested_at);
    expect(row.retiredAt).toBe(row.completedAt);
    // Not applicable to a zone key on the happy path: role (Postgres passwords) and failure.
    for (const column of DESIGN_COLUMNS.filter((c) => c !== 'role' && c !== 'failure')) expect(row[column], column).not.toBeNull();
    expect(await rotationEvents(db.pool(), f.rotationId)).toHaveLength(events.length);
    expect((await rotationChecks(db.pool(), f.rotationId)).map((c) => c.phase)).toEqual(expect.arrayContaining(['stage', 'deploy', 'retire']));
  });

  it('fills role for a per-role material', async () => {
    const f = new RotationFixture({ plan: samplePlan({ material: 'POSTGRES_PASSWORD', role: 'api', format: 'password24' }) });
    await applyAll([...f.untilRetirement(), f.retiring(), ...f.afterRetiring()]);
    expect(await getRotation(db.pool(), f.rotationId)).toMatchObject({ state: 'completed', role: 'api', material: 'POSTGRES_PASSWORD' });
  });

  it('records each event once: a duplicate changes nothing', async () => {
    const f = new RotationFixture();
    const planned = f.planned();
    expect(await apply(planned)).toEqual({ applied: true, state: 'planned' });
    const before = await getRotation(db.pool(), f.rotationId);
    expect(await apply(planned)).toEqual({ applied: false });
    expect(await getRotation(db.pool(), f.rotationId)).toEqual(before);
    expect(await rotationEvents(db.pool(), f.rotationId)).toHaveLength(1);
  });

  it('never moves a rotation backwards when events arrive out of order', async () => {
    const f = new RotationFixture();
    const [requested, planned, writtenStage, rolledStage, verifiedStage, writtenDeploy, rolledDeploy, verifiedDeploy] = f.untilRetirement();
    const states: string[] = [];
    for (const e of [verifiedDeploy!, writtenStage!, planned!, rolledDeploy!, requested!, verifiedStage!, writtenDeploy!, rolledStage!]) {
      await apply(e);
      states.push((await getRotation(db.pool(), f.rotationId))!.state);
    }
    expect(new Set(states)).toEqual(new Set(['waiting_retirement']));
    const row = (await getRotation(db.pool(), f.rotationId))!;
    expect(row).toMatchObject({ actor: 'alice', material: 'AUDIT_HMAC_KEY', newKid: f.newKid, phase: 'deploy', progress: 23 });
    expect(row.requestedAt).not.toBeNull();
  });

  it('keeps a terminal state final', async () => {
    const f = new RotationFixture();
    await applyAll([f.completed(), f.failed('retire', false), f.written('retire'), f.requested()]);
    expect(await getRotation(db.pool(), f.rotationId)).toMatchObject({ state: 'completed', progress: 100 });
  });

  it('projects a failed deploy verification and its rollback as failed with rolled_back', async () => {
    const f = new RotationFixture();
    const states: string[] = [];
    for (const e of f.rolledBack()) {
      await apply(e);
      states.push((await getRotation(db.pool(), f.rotationId))!.state);
    }
    expect(states).toEqual(['requested', 'planned', 'rolling', 'verifying', 'rolling_back', 'rolling_back', 'rolling_back', 'rolling_back', 'failed']);
    const row = (await getRotation(db.pool(), f.rotationId))!;
    expect(row).toMatchObject({ state: 'failed', rolledBack: true, failure: 'deploy verification failed', retireAfter: null });
    expect(row.diagnosis).toMatch(/did not become ready/);
    expect((await rotationChecks(db.pool(), f.rotationId)).some((c) => !c.ok && c.phase === 'deploy')).toBe(true);
  });

  it('records a rejection with its reason code', async () => {
    const f = new RotationFixture();
    await apply(f.requested());
    const rejected: FixtureEvent = {
      name: 'rejected',
      eventId: newRotationId(),
      rotationId: f.rotationId,
      data: { material: 'AUDIT_HMAC_KEY', reason_code: 'duplicate_in_flight', message: 'AUDIT_HMAC_KEY is already rotating' },
    };
    await apply(rejected);
    expect(await getRotation(db.pool(), f.rotationId)).toMatchObject({
      state: 'rejected',
      failure: 'duplicate_in_flight: AUDIT_HMAC_KEY is already rotating',
    });
  });

  it('ends a dry run in planned', async () => {
    const f = new RotationFixture({ plan: samplePlan({ dry_run: true }) });
    await applyAll([f.requested({ dry_run: true }), f.planned()]);
    expect(await getRotation(db.pool(), f.rotationId)).toMatchObject({ state: 'planned', dryRun: true });
  });

  it('records an invalid request without its unknown fields, NULs made harmless', async () => {
    const rotationId = newRotationId();
    const event: FixtureEvent = {
      name: 'requested' as EventName,
      eventId: newRotationId(),
      rotationId,
      data: { material: 'NOT_A_MATERIAL\u0000', reason: 42, value: 'deadbeef'.repeat(8) },
    };
    await apply(event);
    const [recorded] = await rotationEvents(db.pool(), rotationId);
    expect(recorded!.data).toEqual({ material: 'NOT_A_MATERIAL\ufffd', reason: 42, ignored_fields: ['value'] });
    expect(JSON.stringify(await getRotation(db.pool(), rotationId))).not.toContain('deadbeef');
    expect(await getRotation(db.pool(), rotationId)).toMatchObject({ state: 'requested', reason: null, material: 'NOT_A_MATERIAL\ufffd' });
  });

  it('records drain marks with the deploy roll, keeping the first mark on a retry', async () => {
    const f = new RotationFixture();
    const rolled = f.rolled('deploy');
    const event = asRotationEvent(rolled, streams.rolled);
    await applyEvent(db.pool(), streams.rolled, event, 'rolled', { drainMarks: [{ stream: 's1', group: 'g1', mark: '5-0' }] });
    await applyEvent(db.pool(), streams.rolled, event, 'rolled', { drainMarks: [{ stream: 's1', group: 'g1', mark: '9-0' }] });
    expect(await drainMarksOf(db.pool(), f.rotationId)).toEqual([{ stream: 's1', group: 'g1', mark: '5-0' }]);

    await recordDrainEvidence(db.pool(), f.rotationId, [{ stream: 's1', group: 'g1', mark: '5-0', pending: 2, lag: 0, drained: false }]);
    const [drain] = await rotationDrains(db.pool(), f.rotationId);
    expect(drain).toMatchObject({ stream: 's1', group: 'g1', mark: '5-0', pending: 2, lag: 0, drained: false });
    expect(drain!.checkedAt).not.toBeNull();
  });

  it('handles concurrent events of one new rotation', async () => {
    const f = new RotationFixture();
    await Promise.all(f.untilRetirement().map((e) => apply(e)));
    expect(await getRotation(db.pool(), f.rotationId)).toMatchObject({ state: 'waiting_retirement' });
  });
});
