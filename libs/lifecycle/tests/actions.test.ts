import { describe, expect, it } from 'vitest';
import { actionOf, actionsFor, expectedPath, lifecycleEvent, verificationOutcome } from '../src/index.js';
import { adminPlan, kekPlan, zonePlan } from './plans.js';

const ev = (name: string, data: Record<string, unknown> = {}) => lifecycleEvent(name, data);

describe('actionsFor', () => {
  it('starts a plan at its first phase: stage for dual overlap, deploy otherwise', () => {
    expect(actionOf('secret-writer', ev('planned'), kekPlan)).toEqual({ stage: 'secret-writer', do: 'write', phase: 'stage' });
    expect(actionOf('secret-writer', ev('planned'), adminPlan)).toEqual({ stage: 'secret-writer', do: 'write', phase: 'deploy' });
    expect(actionsFor(ev('planned', { dry_run: true }), adminPlan)).toEqual([]);
  });

  it('sends a write to the roller when something restarts, else straight to the verifier', () => {
    expect(actionOf('roller', ev('written', { phase: 'stage' }), kekPlan)).toMatchObject({ do: 'roll', groups: [['api'], ['sts']] });
    expect(actionOf('roller', ev('written', { phase: 'deploy' }), zonePlan)).toBeUndefined();
    expect(actionOf('verifier', ev('written', { phase: 'deploy' }), zonePlan)).toMatchObject({ do: 'verify', phase: 'deploy' });
    expect(actionOf('verifier', ev('written', { phase: 'retire' }), adminPlan)).toMatchObject({ do: 'verify', phase: 'retire' });
  });

  it('goes from a passing stage to deploy, and from a passing deploy to the wait for retirement', () => {
    expect(actionOf('secret-writer', ev('verified', { phase: 'stage', ok: true }), kekPlan)).toEqual({ stage: 'secret-writer', do: 'write', phase: 'deploy' });
    const afterDeploy = actionsFor(ev('verified', { phase: 'deploy', ok: true }), kekPlan).map((a) => `${a.stage}:${a.do}`);
    expect(afterDeploy).toEqual(['recorder:schedule_retirement', 'planner:mark_waiting', 'secret-writer:note_deploy_verified']);
  });

  it('rolls back a failed verification only where a rollback exists', () => {
    expect(actionOf('secret-writer', ev('verified', { phase: 'deploy', ok: false }), adminPlan)).toEqual({ stage: 'secret-writer', do: 'write', phase: 'rollback' });
    expect(actionOf('secret-writer', ev('verified', { phase: 'deploy', ok: false }), zonePlan)).toBeUndefined();
  });

  it('releases the lock on a passing retirement and on failure, never on the announcement', () => {
    expect(actionOf('planner', ev('verified', { phase: 'retire', ok: true }), adminPlan)).toEqual({ stage: 'planner', do: 'release' });
    expect(actionOf('planner', ev('failed'), adminPlan)).toEqual({ stage: 'planner', do: 'release' });
    expect(actionsFor(ev('completed'), adminPlan)).toEqual([]);
  });

  it('says how a verification ends the rotation', () => {
    expect(verificationOutcome(adminPlan, 'retire', true)).toEqual({ ends: 'completed', rolledBack: false });
    expect(verificationOutcome(adminPlan, 'rollback', true)).toEqual({ ends: 'failed', rolledBack: true });
    expect(verificationOutcome(zonePlan, 'deploy', false)).toEqual({ ends: 'failed', rolledBack: false });
    expect(verificationOutcome(adminPlan, 'deploy', false)).toEqual({ ends: undefined, rolledBack: false });
  });
});

describe('expectedPath', () => {
  it('draws plan, phases and the wait for retirement', () => {
    expect(expectedPath(kekPlan).map((s) => s.label)).toEqual([
      'plan',
      'stage: write',
      'stage: restart api → sts',
      'stage: verify (1 checks)',
      'deploy: write',
      'deploy: restart api → sts',
      'deploy: verify (1 checks)',
      'wait: 1 m window',
      'retire: write',
      'retire: restart api → sts',
      'retire: verify (1 checks)',
    ]);
    expect(expectedPath(zonePlan).map((s) => s.kind)).toEqual(['plan', 'write', 'verify', 'wait', 'write', 'verify']);
  });
});
