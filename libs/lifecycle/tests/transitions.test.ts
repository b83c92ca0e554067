import { describe, expect, it } from 'vitest';
import { isSuperseded, lifecycleEvent, next, type LifecycleEvent, type Position } from '../src/index.js';
import { adminPlan, kekPlan, zonePlan } from './plans.js';
import type { Plan } from '@caracal-rotation/contracts';

/** Folds events into a position, returning the state after each one. */
function walk(plan: Plan, events: LifecycleEvent[]): string[] {
  let position: Position | undefined;
  return events.map((e) => {
    const t = next(position, e, plan);
    position = t.position;
    return t.advanced ? t.position.state : `(${position?.state ?? 'none'})`;
  });
}

const ev = (name: string, data: Record<string, unknown> = {}) => lifecycleEvent(name, data);

describe('next', () => {
  it('walks a dual-overlap rotation through stage, deploy and retire', () => {
    expect(
      walk(kekPlan, [
        ev('requested'),
        ev('planned'),
        ev('written', { phase: 'stage' }),
        ev('rolled', { phase: 'stage' }),
        ev('verified', { phase: 'stage', ok: true }),
        ev('written', { phase: 'deploy' }),
        ev('rolled', { phase: 'deploy' }),
        ev('verified', { phase: 'deploy', ok: true }),
        ev('retiring'),
        ev('written', { phase: 'retire' }),
        ev('rolled', { phase: 'retire' }),
        ev('verified', { phase: 'retire', ok: true }),
      ]),
    ).toEqual(['requested', 'planned', 'rolling', 'verifying', 'deploying', 'rolling', 'verifying', 'waiting_retirement', 'retiring', 'retiring', 'retiring', 'completed']);
  });

  it('goes from written straight to verifying when nothing restarts (zone keys)', () => {
    expect(walk(zonePlan, [ev('planned'), ev('written', { phase: 'deploy' }), ev('verified', { phase: 'deploy', ok: true })])).toEqual([
      'planned',
      'verifying',
      'waiting_retirement',
    ]);
  });

  it('never moves back: a late or repeated event is recorded without changing the state', () => {
    const states = walk(adminPlan, [
      ev('planned'),
      ev('rolled', { phase: 'deploy' }),
      ev('written', { phase: 'deploy' }),
      ev('rolled', { phase: 'deploy' }),
      ev('requested'),
    ]);
    expect(states).toEqual(['planned', 'verifying', '(verifying)', '(verifying)', '(verifying)']);
  });

  it('rolls back after a failed deploy verification, or fails at once where no rollback exists', () => {
    expect(walk(adminPlan, [ev('planned'), ev('written', { phase: 'deploy' }), ev('verified', { phase: 'deploy', ok: false }), ev('written', { phase: 'rollback' }), ev('failed')])).toEqual([
      'planned',
      'rolling',
      'rolling_back',
      'rolling_back',
      'failed',
    ]);
    expect(walk(zonePlan, [ev('planned'), ev('written', { phase: 'deploy' }), ev('verified', { phase: 'deploy', ok: false })])).toEqual(['planned', 'verifying', 'failed']);
  });

  it('leaves the state alone for an approved rollback until the secret-writer applies it, and for intents and announcements', () => {
    expect(walk(adminPlan, [ev('planned'), ev('written', { phase: 'deploy' }), ev('rollback'), ev('intent'), ev('completed'), ev('rejected', { intent: 'rollback' })])).toEqual([
      'planned',
      'rolling',
      '(rolling)',
      '(rolling)',
      '(rolling)',
      '(rolling)',
    ]);
  });

  it('lets whichever of retirement and rollback the writer applied first decide the state', () => {
    // The writer applied the rollback; the recorder saw the retiring it had published just before.
    expect(walk(adminPlan, [ev('planned'), ev('verified', { phase: 'deploy', ok: true }), ev('retiring'), ev('written', { phase: 'rollback' }), ev('written', { phase: 'retire' })])).toEqual([
      'planned',
      'waiting_retirement',
      'retiring',
      'rolling_back',
      '(rolling_back)',
    ]);
  });

  it('ends for good: nothing follows a terminal state or a dry run', () => {
    expect(walk(adminPlan, [ev('planned'), ev('abandoned'), ev('written', { phase: 'deploy' }), ev('failed')])).toEqual(['planned', 'abandoned', '(abandoned)', '(abandoned)']);
    expect(walk(adminPlan, [ev('planned', { dry_run: true }), ev('written', { phase: 'deploy' })])).toEqual(['planned', '(planned)']);
    expect(walk(adminPlan, [ev('requested'), ev('rejected'), ev('planned')])).toEqual(['requested', 'rejected', '(rejected)']);
  });

  it('refuses names that are no rotation event', () => {
    expect(() => lifecycleEvent('exploded', {})).toThrow(/no rotation event/);
  });
});

describe('isSuperseded', () => {
  const at = (plan: Plan, events: LifecycleEvent[]): Position | undefined => events.reduce<Position | undefined>((p, e) => next(p, e, plan).position, undefined);
  const deployed = [ev('requested'), ev('planned'), ev('written', { phase: 'deploy' }), ev('rolled', { phase: 'deploy' }), ev('verified', { phase: 'deploy', ok: true })];

  it('lets a stage act on its input when the recorder has not yet, or has just, recorded it', () => {
    const written = ev('written', { phase: 'deploy' });
    expect(isSuperseded(undefined, written, adminPlan)).toBe(false);
    expect(isSuperseded(at(adminPlan, deployed.slice(0, 2)), written, adminPlan)).toBe(false);
    expect(isSuperseded(at(adminPlan, deployed.slice(0, 3)), written, adminPlan)).toBe(false);
  });

  it('refuses an input the rotation has moved past, and anything of an ended rotation', () => {
    const waiting = at(adminPlan, deployed);
    expect(waiting?.state).toBe('waiting_retirement');
    expect(isSuperseded(waiting, ev('written', { phase: 'deploy' }), adminPlan)).toBe(true);
    expect(isSuperseded(waiting, ev('rolled', { phase: 'deploy' }), adminPlan)).toBe(true);
    expect(isSuperseded(waiting, ev('retiring'), adminPlan)).toBe(false);
    const completed = at(adminPlan, [...deployed, ev('retiring'), ev('verified', { phase: 'retire', ok: true })]);
    expect(isSuperseded(completed, ev('retiring'), adminPlan)).toBe(true);
    expect(isSuperseded(at(adminPlan, [ev('requested'), ev('abandoned')]), ev('planned'), adminPlan)).toBe(true);
  });

  it('lets a rollback through after a failed deploy verification, and refuses the deploy steps it replaced', () => {
    const rollingBack = at(adminPlan, [...deployed.slice(0, 4), ev('verified', { phase: 'deploy', ok: false })]);
    expect(rollingBack?.state).toBe('rolling_back');
    expect(isSuperseded(rollingBack, ev('written', { phase: 'rollback' }), adminPlan)).toBe(false);
    expect(isSuperseded(rollingBack, ev('rolled', { phase: 'deploy' }), adminPlan)).toBe(true);
  });
});
