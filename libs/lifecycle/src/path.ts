import { formatDuration, type Phase, type Plan } from '@caracal-rotation/contracts';
import { stepsOf } from './steps.js';

export type StepKind = 'plan' | 'write' | 'roll' | 'verify' | 'wait';

/** One step of a rotation's expected path, as the status page and the CLI timeline draw it. */
export interface PathStep {
  kind: StepKind;
  phase?: Phase;
  /** The service that does it. */
  stage: 'planner' | 'secret-writer' | 'roller' | 'verifier' | 'recorder';
  /** The event that marks it done. */
  done: { name: 'planned' | 'written' | 'rolled' | 'verified' | 'retiring'; phase?: Phase };
  label: string;
}

function phaseSteps(plan: Plan, phase: Phase): PathStep[] {
  const steps = stepsOf(plan, phase);
  const out: PathStep[] = [{ kind: 'write', phase, stage: 'secret-writer', done: { name: 'written', phase }, label: `${phase}: write` }];
  const groups = steps.roll.filter((g) => g.length > 0);
  if (groups.length > 0) {
    out.push({ kind: 'roll', phase, stage: 'roller', done: { name: 'rolled', phase }, label: `${phase}: restart ${groups.map((g) => g.join('+')).join(' → ')}` });
  }
  out.push({ kind: 'verify', phase, stage: 'verifier', done: { name: 'verified', phase }, label: `${phase}: verify (${steps.checks.length} checks)` });
  return out;
}

/** The path a rotation takes when all goes well: plan, then each phase's steps, with the wait for retirement before `retire`. */
export function expectedPath(plan: Plan): PathStep[] {
  const path: PathStep[] = [{ kind: 'plan', stage: 'planner', done: { name: 'planned' }, label: 'plan' }];
  for (const { phase } of plan.phases) {
    if (phase === 'retire') {
      const window = plan.safety_window_ms > 0 ? `${formatDuration(plan.safety_window_ms, { spaced: true })} window` : 'no window';
      path.push({ kind: 'wait', stage: 'recorder', done: { name: 'retiring' }, label: `wait: ${window}${plan.drain.length ? ' and the drain gate' : ''}` });
    }
    path.push(...phaseSteps(plan, phase));
  }
  return path;
}

/** The rollback's steps, shown when a rotation rolls back. */
export const rollbackPath = (plan: Plan): PathStep[] => (plan.rollback.mode === 'none' ? [] : phaseSteps(plan, 'rollback'));
