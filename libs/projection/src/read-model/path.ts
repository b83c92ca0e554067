import type { Plan } from '@caracal-rotation/contracts';
import { expectedPath, isFinal, rollbackPath, type PathStep, type Position } from '@caracal-rotation/lifecycle';
import type { PathStepView, RotationEventRecord, StepStatus } from '../records.js';

type Recorded = Pick<RotationEventRecord, 'type' | 'data' | 'occurredAt'>;

const nameOf = (type: string): string => type.replace(/^rotation\./, '');
const phaseOf = (e: Recorded): string | undefined => (e.data as { phase?: string } | null)?.phase;
const okOf = (e: Recorded): boolean | undefined => (e.data as { ok?: boolean } | null)?.ok;

export const stepKey = (step: Pick<PathStep, 'done'>): string => (step.done.phase ? `${step.done.name}:${step.done.phase}` : step.done.name);

/** The event that marks a step done (the first one, should a stage have emitted it twice). */
function eventOf(step: PathStep, events: readonly Recorded[]): Recorded | undefined {
  return events.find((e) => nameOf(e.type) === step.done.name && (step.done.phase === undefined || phaseOf(e) === step.done.phase));
}

/** Whether the rotation left its forward path for the rollback. */
function rolledBack(plan: Plan, events: readonly Recorded[], position: Position): boolean {
  if (position.state === 'rolling_back') return true;
  return events.some((e) => {
    const name = nameOf(e.type);
    if ((name === 'written' || name === 'rolled' || name === 'verified') && phaseOf(e) === 'rollback') return true;
    return name === 'verified' && okOf(e) === false && phaseOf(e) !== 'retire' && plan.rollback.mode !== 'none';
  });
}

/**
 * A rotation's path as libs/lifecycle draws it (`expectedPath`; the rollback's
 * steps once it rolls back), each step marked from the recorded events: done,
 * failed (a verification that did not pass), then the first step left is
 * current while the rotation is in flight, and the rest pending.
 */
export function rotationPath(plan: Plan, events: readonly Recorded[], position: Position): PathStepView[] {
  const marked = (step: PathStep) => {
    const e = eventOf(step, events);
    const status = !e ? undefined : step.done.name === 'verified' && okOf(e) === false ? ('failed' as const) : ('done' as const);
    return { step, event: e, status };
  };
  let steps = expectedPath(plan).map(marked);
  if (rolledBack(plan, events, position)) steps = [...steps.filter((s) => s.status !== undefined), ...rollbackPath(plan).map(marked)];

  const inFlight = !isFinal(position);
  let current = false;
  return steps.map(({ step, event, status }) => {
    let shown: StepStatus | undefined = status;
    if (!shown) {
      shown = inFlight && !current ? 'current' : 'pending';
      current = true;
    }
    return { ...step, key: stepKey(step), status: shown, at: event?.occurredAt ?? null };
  });
}
