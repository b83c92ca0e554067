import type { Phase, PhaseSteps, Plan } from '@caracal-rotation/contracts';

/** The phases a rotation goes through when all is well, in order (stage?, deploy, retire). */
export const forwardPhases = (plan: Plan): Phase[] => plan.phases.map((p) => p.phase);

/** The steps of one phase of a plan; rollback comes from the plan's rollback section. */
export function stepsOf(plan: Plan, phase: Phase): PhaseSteps {
  if (phase === 'rollback') return plan.rollback.steps;
  const steps = plan.phases.find((p) => p.phase === phase);
  if (!steps) throw new Error(`the plan of ${plan.material} has no ${phase} phase`);
  return steps;
}

export const hasPhase = (plan: Plan, phase: Phase): boolean => phase === 'rollback' || plan.phases.some((p) => p.phase === phase);

/** The phase that follows a passing verification of `phase`: the next forward phase, or none (retirement waits for the window; retire ends the rotation). */
export function phaseAfter(plan: Plan, phase: Phase): Phase | undefined {
  const order = forwardPhases(plan);
  const i = order.indexOf(phase);
  if (i < 0 || phase === 'retire') return undefined;
  const next = order[i + 1];
  // Retirement is started by the recorder once the window and the drain gate allow it.
  return next === 'retire' ? undefined : next;
}

/** Whether anything restarts in this phase. */
export const rollsIn = (plan: Plan, phase: Phase): boolean => stepsOf(plan, phase).roll.some((group) => group.length > 0);
