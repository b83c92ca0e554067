import { newRotationId, rotationStreams } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { applyEvent } from './apply-event.js';
import { getRotation, listRotations } from './read-rotations.js';
import { materialStatus, rotationsInProgress } from './read-status.js';
import { lockDueRetirements, markRetiring } from './retirement.js';
import { useTestDatabase } from '../testing/database.js';
import { RotationFixture, asRotationEvent, samplePlan, type FixtureEvent } from '../testing/index.js';
import { transaction } from './transaction.js';

const db = useTestDatabase('proj_read');
const streams = rotationStreams('test.rotation');

const applyAll = async (events: FixtureEvent[], occurredAt?: string) => {
  for (const e of events) await applyEvent(db.pool(), streams[e.name], asRotationEvent(e, streams[e.name], occurredAt), e.name);
};

describe('read side', () => {
  const old = new RotationFixture({ newKid: 'kid-old-current' });
  const latest = new RotationFixture({ newKid: 'kid-latest' });
  const batchId = newRotationId();
  const zone = new RotationFixture({ batchId, plan: samplePlan({ material: 'ZONE_SIGNING_KEY', zone_id: 'z1', secret: null }) });

  it('answers the status page and the CLI', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    await applyAll([...old.untilRetirement(), old.retiring(), ...old.afterRetiring().slice(0, 3)]);
    await applyAll([old.completed(hourAgo)]);
    await applyAll(latest.untilRetirement());
    await applyAll([{ name: 'requested', eventId: newRotationId(), rotationId: batchId, data: { material: 'ZONE_SIGNING_KEY', zone_ids: ['z1'], reason: 'r', actor: 'a' } }]);
    await applyAll(zone.untilRetirement().filter((e) => e.name !== 'requested'));

    const status = await materialStatus(db.pool());
    const audit = status.find((s) => s.material === 'AUDIT_HMAC_KEY')!;
    expect(audit).toMatchObject({ latestRotationId: latest.rotationId, latestState: 'waiting_retirement', currentKid: 'kid-old-current' });
    expect(audit.materialAgeSeconds).toBeGreaterThan(3590);
    expect(audit.materialAgeSeconds).toBeLessThan(3700);
    // The batch parent is not a rotation of its own: only its zone shows.
    expect(status.filter((s) => s.material === 'ZONE_SIGNING_KEY').map((s) => s.zoneId)).toEqual(['z1']);

    expect((await listRotations(db.pool(), { batchId, limit: 10 })).map((r) => r.rotationId)).toEqual([zone.rotationId]);
    expect((await listRotations(db.pool(), { state: 'completed', limit: 10 })).map((r) => r.rotationId)).toEqual([old.rotationId]);
    expect(await listRotations(db.pool(), { material: 'AUDIT_HMAC_KEY', limit: 1 })).toHaveLength(1);
    expect(await getRotation(db.pool(), 'not-a-uuid')).toBeUndefined();
    expect(await getRotation(db.pool(), newRotationId())).toBeUndefined();

    expect(Object.fromEntries(await rotationsInProgress(db.pool()))).toEqual({ AUDIT_HMAC_KEY: 1, ZONE_SIGNING_KEY: 1 });
  });

  it('gives stage durations for dashboards', async () => {
    const { rows } = await db.pool().query(
      'SELECT type, phase, seconds_since_previous FROM rotation_stage_durations WHERE rotation_id = $1 ORDER BY occurred_at, event_id',
      [old.rotationId],
    );
    expect(rows[0]).toMatchObject({ type: 'rotation.requested', seconds_since_previous: null });
    expect(rows.length).toBe(13);
    expect(rows.slice(1).every((r) => typeof r.seconds_since_previous === 'number')).toBe(true);
  });

  it('hands each due retirement to one replica', async () => {
    const pool = db.pool();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let first: string[] = [];
    const holder = transaction(pool, async (client) => {
      first = (await lockDueRetirements(client, 50)).map((r) => r.rotationId);
      await held;
    });
    await expect.poll(() => first.length, { timeout: 5_000 }).toBe(2);
    expect(first).toEqual(expect.arrayContaining([latest.rotationId, zone.rotationId]));
    const second = await transaction(pool, (client) => lockDueRetirements(client, 50));
    expect(second).toEqual([]);
    release();
    await holder;

    await transaction(pool, (client) => markRetiring(client, latest.rotationId));
    expect(await getRotation(pool, latest.rotationId)).toMatchObject({ state: 'retiring', phase: 'retire' });
    const due = await transaction(pool, (client) => lockDueRetirements(client, 50));
    expect(due.map((d) => d.rotationId)).toEqual([zone.rotationId]);
    expect(due[0]!.context).toMatchObject({ material: 'ZONE_SIGNING_KEY', zone_id: 'z1', batch_id: batchId, new: { kid: zone.newKid } });
  });
});
