import { newRotationId } from '@caracal-rotation/contracts';
import { lifecycleEvent } from '@caracal-rotation/lifecycle';
import { afterAll, describe, expect, it } from 'vitest';
import { RotationFixture, asProjected, singleValuePlan, useTestDatabase } from '../../testing/index.js';
import { applyEvents } from '../apply-events.js';
import { projectionReplayGuard, rotationPosition } from './positions.js';

const db = useTestDatabase('proj_positions');
const guards: { close(): Promise<void> }[] = [];
afterAll(() => Promise.all(guards.map((g) => g.close())));

describe('the replay guard over the projection', () => {
  it('refuses what a rotation has moved past and lets its next step through', async () => {
    const f = new RotationFixture({ plan: singleValuePlan() });
    await applyEvents(db.pool(), f.untilRetirement().map((e) => asProjected(f, e)));
    expect(await rotationPosition(db.pool(), f.rotationId)).toMatchObject({ state: 'waiting_retirement' });

    const unavailable: Error[] = [];
    const guard = projectionReplayGuard(db.url(), (err) => unavailable.push(err));
    guards.push(guard);
    expect(await guard.superseded(f.rotationId, lifecycleEvent('written', { phase: 'deploy' }), f.plan)).toBe(true);
    expect(await guard.superseded(f.rotationId, lifecycleEvent('written', { phase: 'retire' }), f.plan)).toBe(false);
    expect(await guard.superseded(newRotationId(), lifecycleEvent('written', { phase: 'deploy' }), f.plan)).toBe(false);
    expect(unavailable).toEqual([]);
  });

  it('lets everything through while Postgres cannot be reached, and says so once', async () => {
    const f = new RotationFixture({ plan: singleValuePlan() });
    const unavailable: Error[] = [];
    const guard = projectionReplayGuard('postgres://nobody@127.0.0.1:1/none', (err) => unavailable.push(err));
    guards.push(guard);
    expect(await guard.superseded(f.rotationId, lifecycleEvent('written', { phase: 'deploy' }), f.plan)).toBe(false);
    expect(await guard.superseded(f.rotationId, lifecycleEvent('rolled', { phase: 'deploy' }), f.plan)).toBe(false);
    expect(unavailable).toHaveLength(1);
    expect(unavailable[0]!.message).toMatch(/ECONNREFUSED|connect/);
  });
});
