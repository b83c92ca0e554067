import { describe, expect, it } from 'vitest';
import { RotationFixture, asRotationEvent, dualPlan, singleValuePlan, zonePlan, type FixtureEvent } from '../../testing/index.js';
import { rotationPath } from './path.js';

const recorded = (events: FixtureEvent[]) => events.map((e) => asRotationEvent(e, `caracal.rotation.${e.name}`));
const shown = (steps: ReturnType<typeof rotationPath>) => steps.map((s) => `${s.key}:${s.status}`);

describe('rotationPath', () => {
  it('marks every step of a completed rotation done, and none current', () => {
    const f = new RotationFixture({ plan: singleValuePlan() });
    const path = rotationPath(f.plan, recorded([...f.untilRetirement(), f.retiring(), ...f.afterRetiring()]), { state: 'completed', progress: 1000 });
    expect(shown(path)).toEqual(['planned:done', 'written:deploy:done', 'rolled:deploy:done', 'verified:deploy:done', 'retiring:done', 'written:retire:done', 'verified:retire:done']);
    expect(path.every((s) => s.at !== null)).toBe(true);
  });

  it('shows a failed verification that nothing can roll back, and what was never reached as pending', () => {
    const f = new RotationFixture({ plan: zonePlan() });
    const path = rotationPath(f.plan, recorded([f.planned(), f.written('deploy'), f.verified('deploy', false)]), { state: 'failed', progress: 1000 });
    expect(shown(path)).toEqual(['planned:done', 'written:deploy:done', 'verified:deploy:failed', 'retiring:pending', 'written:retire:pending', 'verified:retire:pending']);
  });

  it('leaves the forward path for the rollback once a verification fails where a rollback exists', () => {
    const f = new RotationFixture({ plan: dualPlan() });
    const events = recorded([f.planned(), ...f.phase('stage'), ...f.phase('deploy', false)]);
    expect(shown(rotationPath(f.plan, events, { state: 'rolling_back', progress: 100 }))).toEqual([
      'planned:done',
      'written:stage:done',
      'rolled:stage:done',
      'verified:stage:done',
      'written:deploy:done',
      'rolled:deploy:done',
      'verified:deploy:failed',
      'written:rollback:current',
      'rolled:rollback:pending',
      'verified:rollback:pending',
    ]);
  });

  it('has no current step once the rotation was abandoned', () => {
    const f = new RotationFixture({ plan: singleValuePlan() });
    const path = rotationPath(f.plan, recorded([f.planned(), f.written('deploy'), f.abandoned()]), { state: 'abandoned', progress: 1000 });
    expect(path.filter((s) => s.status === 'current')).toEqual([]);
    expect(shown(path).slice(0, 3)).toEqual(['planned:done', 'written:deploy:done', 'rolled:deploy:pending']);
  });
});
