import { randomUUID } from 'node:crypto';
import { childRotationId, newRotationId } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { RotationFixture, asProjected, dualPlan, singleValuePlan, useTestDatabase, zonePlan, type FixtureEvent } from '../testing/index.js';
import { applyEvent, applyEvents, type ProjectedEvent } from './apply-events.js';
import { getRotation } from './read-model/rotations.js';
import { rotationEvents } from './read-model/evidence.js';

// Real Postgres, a schema of this file's own.
const db = useTestDatabase('proj_apply');

const T0 = Date.parse('2026-06-01T12:00:00.000Z');
/** Each event a second after the previous one, as the stages would emit them. */
const timed = (f: RotationFixture, events: FixtureEvent[], from = 0): ProjectedEvent[] =>
  events.map((e, i) => asProjected(f, e, { occurredAt: new Date(T0 + (from + i) * 1000).toISOString() }));

async function stateAfter(f: RotationFixture, event: FixtureEvent, at: number) {
  await applyEvent(db.pool(), asProjected(f, event, { occurredAt: new Date(T0 + at * 1000).toISOString() }));
  return (await getRotation(db.pool(), f.rotationId))?.state;
}

/** Projects `events` one by one and answers the state after each. */
async function statesAlong(f: RotationFixture, events: FixtureEvent[]): Promise<(string | undefined)[]> {
  const states: (string | undefined)[] = [];
  for (const [i, e] of events.entries()) states.push(await stateAfter(f, e, i));
  return states;
}

/** A deterministic shuffle, so a failing order can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i -= 1) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const comparable = async (id: string) => {
  const r = await getRotation(db.pool(), id);
  if (!r) return undefined;
  const { createdAt: _c, updatedAt: _u, rotationId: _id, ...rest } = r;
  return rest;
};

describe('states from libs/lifecycle', () => {
  it('follows a dual-overlap rotation through stage, deploy and retire', async () => {
    const f = new RotationFixture({ plan: dualPlan({ safety_window_ms: 60_000 }), actor: 'alice@ops' });
    const path = [
      f.requested({ actor: 'mallory' }),
      f.planned(),
      ...f.phase('stage'),
      ...f.phase('deploy'),
      f.retiring(),
      ...f.phase('retire'),
      f.completed(),
    ];
    expect(await statesAlong(f, path)).toEqual([
      'requested',
      'planned',
      'rolling',
      'verifying',
      'deploying',
      'rolling',
      'verifying',
      'waiting_retirement',
      'retiring',
      'retiring',
      'retiring',
      'completed',
      'completed',
    ]);
    const r = (await getRotation(db.pool(), f.rotationId))!;
    // The actor is the operator the planner authenticated, never what the request claimed.
    expect(r).toMatchObject({ actor: 'alice@ops', reason: 'quarterly rotation', ticket: 'SEC-1', material: 'ZONE_KEK', phase: 'retire', newKid: f.newKid });
    expect(r.planId).toBe(f.rotationId);
    expect(r.plan).toEqual(f.plan);
    // verified(deploy, ok) is the 8th event; the window is the plan's.
    expect(r.retireAfter).toBe(new Date(T0 + 7_000 + 60_000).toISOString());
    expect(r.retiredAt).toBe(new Date(T0 + 11_000).toISOString());
    expect(r.completedAt).toBe(r.retiredAt);
    const request = (await rotationEvents(db.pool(), f.rotationId))[0]!;
    expect(request.data).toMatchObject({ material: 'ZONE_KEK', ignored_fields: ['actor'] });
    expect(request.signer).toBe('operator:alice@ops');
  });

  it('goes straight from the write to the verification for a zone key, which rolls nothing', async () => {
    const f = new RotationFixture({ plan: zonePlan() });
    const path = [f.requested(), f.planned(), ...f.phase('deploy'), f.retiring(), ...f.phase('retire')];
    expect(path.map((e) => e.name)).not.toContain('rolled');
    expect(await statesAlong(f, path)).toEqual(['requested', 'planned', 'verifying', 'waiting_retirement', 'retiring', 'retiring', 'completed']);
    expect((await getRotation(db.pool(), f.rotationId))!.zoneId).toBe('zone-a');
  });

  it('ends a zone key whose deploy verification fails: nothing can roll it back', async () => {
    const f = new RotationFixture({ plan: zonePlan() });
    expect(await statesAlong(f, [f.planned(), f.written('deploy'), f.verified('deploy', false)])).toEqual(['planned', 'verifying', 'failed']);
    expect((await getRotation(db.pool(), f.rotationId))!.diagnosis).toMatch(/did not become ready/);
  });

  it('rolls a single-value material forward after a failed deploy verification, then fails it as rolled back', async () => {
    const f = new RotationFixture({ plan: singleValuePlan() });
    const path = [f.requested(), f.planned(), ...f.phase('deploy', false), f.written('rollback', { newKid: 'f0f0f0f0f0f0f0f0' }), f.rolled('rollback'), f.verified('rollback'), f.failed('deploy', true)];
    expect(await statesAlong(f, path)).toEqual(['requested', 'planned', 'rolling', 'verifying', 'rolling_back', 'rolling_back', 'rolling_back', 'rolling_back', 'failed']);
    const r = (await getRotation(db.pool(), f.rotationId))!;
    expect(r).toMatchObject({ phase: 'deploy', rolledBack: true, failure: 'deploy verification failed', newKid: f.newKid });
    expect(r.diagnosis).toMatch(/did not become ready/);
    expect(r.retireAfter).toBeNull();
  });

  it('lets whichever write comes first win between an operator rollback and retirement', async () => {
    // Retirement written first: the rollback is refused, the rotation retires.
    const retired = new RotationFixture({ plan: singleValuePlan() });
    await applyEvents(db.pool(), timed(retired, retired.untilRetirement()));
    expect(
      await statesAlong(retired, [
        retired.intent('rollback'),
        retired.rollback(),
        retired.retiring(),
        retired.written('retire'),
        retired.rejected('not_rollbackable', { intent: 'rollback', actor: 'bob@ops' }),
        retired.verified('retire'),
      ]),
    ).toEqual(['waiting_retirement', 'waiting_retirement', 'retiring', 'retiring', 'retiring', 'completed']);
    expect((await getRotation(db.pool(), retired.rotationId))!.failure).toBeNull();

    // Rollback written first: the retiring already projected does not hold it back.
    const rolled = new RotationFixture({ plan: singleValuePlan() });
    await applyEvents(db.pool(), timed(rolled, rolled.untilRetirement()));
    const race = [rolled.intent('rollback'), rolled.rollback(), rolled.retiring(), rolled.written('rollback'), rolled.rolled('rollback'), rolled.verified('rollback'), rolled.failed('rollback', true)];
    expect(await statesAlong(rolled, race)).toEqual(['waiting_retirement', 'waiting_retirement', 'retiring', 'rolling_back', 'rolling_back', 'rolling_back', 'failed']);

    // The rollback's write projected before the retiring, in one batch or one by one: the same outcome.
    for (const batched of [true, false]) {
      const f = new RotationFixture({ plan: singleValuePlan(), rotationId: newRotationId() });
      await applyEvents(db.pool(), timed(f, f.untilRetirement()));
      const late = timed(f, [f.written('rollback'), f.retiring()], 10);
      if (batched) await applyEvents(db.pool(), late);
      else for (const e of late) await applyEvent(db.pool(), e);
      expect((await getRotation(db.pool(), f.rotationId))!, `batched: ${batched}`).toMatchObject({ state: 'rolling_back', phase: 'rollback' });
    }
  });

  it('abandons a rotation in any state and keeps it abandoned whatever comes late', async () => {
    const f = new RotationFixture();
    expect(await statesAlong(f, [f.requested(), f.planned(), f.written('stage'), f.abandoned('bob@ops', 'stuck', 'rolling'), f.rolled('stage'), f.failed('stage', false, 'secret-writer')])).toEqual([
      'requested',
      'planned',
      'rolling',
      'abandoned',
      'abandoned',
      'abandoned',
    ]);
    expect((await getRotation(db.pool(), f.rotationId))!).toMatchObject({ failure: 'abandoned by bob@ops: stuck', rolledBack: false, actor: 'alice@ops' });

    const queued = new RotationFixture();
    expect(await statesAlong(queued, [queued.requested(), queued.queued(), queued.abandoned()])).toEqual(['requested', 'queued', 'abandoned']);
  });

  it('records a refused intent without changing the rotation', async () => {
    const f = new RotationFixture({ plan: zonePlan() });
    await applyEvents(db.pool(), timed(f, f.untilRetirement()));
    const before = await comparable(f.rotationId);
    await applyEvents(db.pool(), timed(f, [f.intent('rollback'), f.rejected('not_rollbackable', { intent: 'rollback', actor: 'bob@ops', message: 'zone keys cannot be rolled back' })], 20));
    expect(await comparable(f.rotationId)).toEqual(before);
    expect((await rotationEvents(db.pool(), f.rotationId)).map((e) => e.type).slice(-2)).toEqual(['rotation.intent', 'rotation.rejected']);
  });

  it('rejects a refused request, with the operator the planner named', async () => {
    const f = new RotationFixture();
    expect(await statesAlong(f, [f.requested(), f.rejected('unauthorized', { actor: 'eve@ops', message: 'operator eve@ops may not request ZONE_KEK' })])).toEqual(['requested', 'rejected']);
    expect((await getRotation(db.pool(), f.rotationId))!).toMatchObject({ actor: 'eve@ops', failure: 'unauthorized: operator eve@ops may not request ZONE_KEK' });
  });

  it("records Caracal's completed announcement without moving or completing the rotation", async () => {
    const f = new RotationFixture({ plan: zonePlan() });
    await applyEvents(db.pool(), timed(f, [...f.untilRetirement(), f.retiring()]));
    expect(await stateAfter(f, f.completed(), 30)).toBe('retiring');
    expect((await getRotation(db.pool(), f.rotationId))!.completedAt).toBeNull();

    // An announcement or an intent naming a rotation nobody started creates none.
    const stray = new RotationFixture();
    const result = await applyEvents(db.pool(), [asProjected(stray, stray.completed()), asProjected(stray, stray.intent('abandon'))]);
    expect(result.recorded).toHaveLength(2);
    expect(await getRotation(db.pool(), stray.rotationId)).toBeUndefined();
    expect(await rotationEvents(db.pool(), stray.rotationId)).toHaveLength(2);
  });

  it('ends a dry run at planned', async () => {
    const f = new RotationFixture();
    expect(await statesAlong(f, [f.requested({ dry_run: true }), f.planned({ dryRun: true }), f.written('stage')])).toEqual(['requested', 'planned', 'planned']);
    expect((await getRotation(db.pool(), f.rotationId))!.dryRun).toBe(true);
  });
});

describe('idempotent, order-independent folding', () => {
  const fullPath = (f: RotationFixture) => [...f.untilRetirement(), f.retiring(), ...f.afterRetiring()];

  it('ends in the same row whatever the order, projected twice, one event at a time', async () => {
    const reference = new RotationFixture({ plan: dualPlan({ safety_window_ms: 5_000 }) });
    const events = timed(reference, fullPath(reference));
    await applyEvents(db.pool(), events);
    const expected = await comparable(reference.rotationId);

    for (const seed of [1, 7, 42]) {
      const f = new RotationFixture({ plan: reference.plan, planRef: reference.planRef });
      const mine = timed(f, fullPath(f));
      for (const e of shuffled(mine, seed)) await applyEvent(db.pool(), e);
      for (const e of shuffled(mine, seed + 1)) expect((await applyEvent(db.pool(), e)).applied).toBe(false);
      expect(await comparable(f.rotationId), `seed ${seed}`).toEqual(expected);
      expect(await rotationEvents(db.pool(), f.rotationId)).toHaveLength(mine.length);
    }
  });

  it('folds a batch holding several events of one rotation in any order, and duplicates in it', async () => {
    const reference = new RotationFixture({ plan: singleValuePlan() });
    const events = timed(reference, fullPath(reference));
    const shuffledBatch = [...shuffled(events, 3), events[4]!, events[0]!];
    const result = await applyEvents(db.pool(), shuffledBatch);
    expect(result.recorded).toHaveLength(events.length);
    expect(result.duplicates).toBe(2);
    expect(result.changes).toEqual([{ rotationId: reference.rotationId, material: 'CARACAL_ADMIN_TOKEN', from: undefined, to: 'completed' }]);
    expect((await getRotation(db.pool(), reference.rotationId))!.state).toBe('completed');

    // The whole batch again, with one new event of another rotation: only that one is recorded.
    const other = new RotationFixture({ plan: singleValuePlan() });
    const again = await applyEvents(db.pool(), [...events, asProjected(other, other.requested())]);
    expect(again.recorded.map((e) => e.event.rotationId)).toEqual([other.rotationId]);
    expect(again.changes).toEqual([{ rotationId: other.rotationId, material: 'CARACAL_ADMIN_TOKEN', from: undefined, to: 'requested' }]);
  });

  it('projects concurrent batches touching the same rotations without losing an event', async () => {
    const fixtures = Array.from({ length: 6 }, () => new RotationFixture({ plan: zonePlan() }));
    const all = fixtures.flatMap((f) => timed(f, [...f.untilRetirement(), f.retiring(), ...f.afterRetiring()]));
    // Four "replicas" each get a slice of every rotation's events.
    const slices = [0, 1, 2, 3].map((k) => shuffled(all, k + 10).filter((_, i) => i % 4 === k));
    await Promise.all(slices.map((slice) => applyEvents(db.pool(), slice)));
    for (const f of fixtures) expect((await getRotation(db.pool(), f.rotationId))!.state).toBe('completed');
  });
});

describe('plans by reference', () => {
  it('stores the plan of a batch once for all its zone rotations', async () => {
    const batchId = newRotationId();
    const plan = zonePlan({ zone_id: undefined, batch: { zones: 40 } });
    const parent = new RotationFixture({ rotationId: batchId, plan });
    const children = Array.from({ length: 40 }, (_, i) => {
      const zone = `zone-${i}`;
      return new RotationFixture({ rotationId: childRotationId(batchId, zone), plan: { ...plan, zone_id: zone }, planRef: parent.planRef, batchId });
    });
    await applyEvents(db.pool(), [asProjected(parent, parent.requested({ zone_ids: ['a'] })), asProjected(parent, parent.planned({ batchZones: 40 }))]);
    // The children's events carry the batch's plan reference; only some carry the plan itself.
    await applyEvents(
      db.pool(),
      children.flatMap((c, i) => [{ ...asProjected(c, c.planned()), plan: i % 2 === 0 ? parent.plan : undefined }, asProjected(c, c.written('deploy'), { withPlan: false })]),
    );
    const { rows } = await db.pool().query('SELECT count(*)::int AS n FROM rotation_plans WHERE plan_id = $1', [batchId]);
    expect(rows[0].n).toBe(1);
    const child = (await getRotation(db.pool(), children[7]!.rotationId))!;
    expect(child).toMatchObject({ planId: batchId, batchId, zoneId: 'zone-7', state: 'verifying', actor: 'alice@ops' });
    expect(child.requestedAt).toBe(plan.requested.requested_at);
    expect((await getRotation(db.pool(), batchId))!).toMatchObject({ batchParent: true, state: 'planned' });
  });

  it('gives a batch the outcome of its zones once every zone has ended', async () => {
    const batch = (zones: number) => {
      const batchId = newRotationId();
      const plan = zonePlan({ zone_id: undefined, batch: { zones } });
      const parent = new RotationFixture({ rotationId: batchId, plan });
      const children = Array.from({ length: zones }, (_, i) => new RotationFixture({ rotationId: childRotationId(batchId, `z${i}`), plan: { ...plan, zone_id: `z${i}` }, planRef: parent.planRef, batchId }));
      return { parent, children };
    };
    const state = async (id: string) => (await getRotation(db.pool(), id))!;

    const good = batch(2);
    await applyEvents(db.pool(), [asProjected(good.parent, good.parent.requested({ zone_id: '*' })), ...good.children.map((c) => asProjected(c, c.planned())), asProjected(good.parent, good.parent.planned({ batchZones: 2 }))]);
    await applyEvents(db.pool(), [...good.children[0]!.untilRetirement().slice(2), good.children[0]!.retiring(), ...good.children[0]!.afterRetiring()].map((e) => asProjected(good.children[0]!, e)));
    expect(await state(good.parent.rotationId)).toMatchObject({ state: 'planned' });
    await applyEvents(db.pool(), [...good.children[1]!.untilRetirement().slice(2), good.children[1]!.retiring(), ...good.children[1]!.afterRetiring()].map((e) => asProjected(good.children[1]!, e)));
    expect(await state(good.parent.rotationId)).toMatchObject({ state: 'completed', failure: null });
    expect((await state(good.parent.rotationId)).completedAt).not.toBeNull();

    const bad = batch(3);
    await applyEvents(db.pool(), [...bad.children.map((c) => asProjected(c, c.planned())), asProjected(bad.parent, bad.parent.planned({ batchZones: 3 }))]);
    for (const [i, c] of bad.children.entries()) {
      const events = i === 1 ? [c.written('deploy'), c.failed('deploy', false, 'verifier', 'the new key is not served')] : [...c.untilRetirement().slice(2), c.retiring(), ...c.afterRetiring()];
      await applyEvents(db.pool(), events.map((e) => asProjected(c, e)));
    }
    expect(await state(bad.parent.rotationId)).toMatchObject({ state: 'failed', failure: '1 of 3 zones did not complete (failed)' });
    // Not counted as a rotation of its own in the material's status.
    const { rows } = await db.pool().query("SELECT count(*)::int AS n FROM rotation_status WHERE material = 'ZONE_SIGNING_KEY' AND zone_id IS NULL");
    expect(rows[0].n).toBe(0);
  });

  it('rolls a batch up when its last zones end in concurrent transactions', async () => {
    for (let trial = 0; trial < 5; trial++) {
      const batchId = newRotationId();
      const plan = zonePlan({ zone_id: undefined, batch: { zones: 8 } });
      const parent = new RotationFixture({ rotationId: batchId, plan });
      const children = Array.from({ length: 8 }, (_, i) => new RotationFixture({ rotationId: childRotationId(batchId, `c${i}`), plan: { ...plan, zone_id: `c${i}` }, planRef: parent.planRef, batchId }));
      await applyEvents(db.pool(), [...children.map((c) => asProjected(c, c.planned())), asProjected(parent, parent.planned({ batchZones: 8 }))]);
      // Every zone's end in a transaction of its own, all at once, as replicas and concurrent batches of one recorder do.
      await Promise.all(children.map((c) => applyEvents(db.pool(), [...c.untilRetirement().slice(2), c.retiring(), ...c.afterRetiring()].map((e) => asProjected(c, e)))));
      expect((await getRotation(db.pool(), batchId))!, `trial ${trial}`).toMatchObject({ state: 'completed', failure: null });
    }
  });

  it("uses the projection's copy of a plan when the event comes without it, and refuses one whose hash differs", async () => {
    const f = new RotationFixture({ plan: singleValuePlan({ safety_window_ms: 1_000 }) });
    await applyEvents(db.pool(), [asProjected(f, f.planned()), asProjected(f, f.written('deploy'), { withPlan: false }), asProjected(f, f.rolled('deploy'), { withPlan: false })]);
    await applyEvent(db.pool(), asProjected(f, f.verified('deploy'), { withPlan: false, occurredAt: new Date(T0).toISOString() }));
    expect((await getRotation(db.pool(), f.rotationId))!.retireAfter).toBe(new Date(T0 + 1_000).toISOString());

    const forged = new RotationFixture({ plan: f.plan, planRef: { id: f.planRef.id, hash: 'f'.repeat(64) }, rotationId: randomUUID() });
    await applyEvents(db.pool(), [asProjected(forged, forged.planned(), { withPlan: false }), asProjected(forged, forged.written('deploy'), { withPlan: false })]);
    await applyEvent(db.pool(), asProjected(forged, forged.verified('deploy'), { withPlan: false }));
    expect((await getRotation(db.pool(), forged.rotationId))!).toMatchObject({ state: 'waiting_retirement', retireAfter: null });
  });
});
