import type { Phase, Plan } from '@caracal-rotation/contracts';
import type { LifecycleEvent } from './events.js';
import { isTerminal, type RotationState } from './states.js';
import { rollsIn } from './steps.js';

/**
 * Where a rotation is: its state and how far along its path it got. Events
 * can arrive out of order (the recorder reads many streams) or twice; an
 * event never moves a rotation back to a position it has passed.
 */
export interface Position {
  state: RotationState;
  progress: number;
}

export type Transition = { advanced: true; position: Position } | { advanced: false; position: Position | undefined; why: string };

/** Progress of a position nothing may follow: a terminal state, or a dry run. */
export const FINAL = 1000;
const PHASE_BASE: Record<Phase, number> = { stage: 10, deploy: 20, retire: 30, rollback: 100 };

export const isFinal = (position: Position | undefined): boolean => position !== undefined && (position.progress >= FINAL || isTerminal(position.state));

/** The state and progress an event leads to, or undefined when it only gets recorded. */
function target(event: LifecycleEvent, plan: Plan | undefined): Position | undefined {
  switch (event.name) {
    case 'requested':
      return { state: 'requested', progress: 0 };
    case 'queued':
      return { state: 'queued', progress: 1 };
    case 'planned':
      return { state: 'planned', progress: event.dryRun || event.batchParent ? FINAL : 2 };
    case 'rejected':
      return event.intent ? undefined : { state: 'rejected', progress: FINAL };
    case 'retiring':
      return { state: 'retiring', progress: PHASE_BASE.retire };
    case 'written': {
      const base = PHASE_BASE[event.phase] + 1;
      if (event.phase === 'rollback') return { state: 'rolling_back', progress: base };
      if (event.phase === 'retire') return { state: 'retiring', progress: base };
      return { state: plan && !rollsIn(plan, event.phase) ? 'verifying' : 'rolling', progress: base };
    }
    case 'rolled': {
      const base = PHASE_BASE[event.phase] + 2;
      if (event.phase === 'rollback') return { state: 'rolling_back', progress: base };
      return { state: event.phase === 'retire' ? 'retiring' : 'verifying', progress: base };
    }
    case 'verified': {
      const base = PHASE_BASE[event.phase] + 3;
      if (event.phase === 'rollback') return { state: 'rolling_back', progress: base };
      if (event.phase === 'retire') return event.ok ? { state: 'completed', progress: FINAL } : { state: 'failed', progress: FINAL };
      if (event.ok) return { state: event.phase === 'stage' ? 'deploying' : 'waiting_retirement', progress: base };
      // A failed stage or deploy verification rolls back, where a rollback exists.
      return plan?.rollback.mode === 'none' ? { state: 'failed', progress: FINAL } : { state: 'rolling_back', progress: PHASE_BASE.rollback };
    }
    case 'failed':
      return { state: 'failed', progress: FINAL };
    case 'abandoned':
      return { state: 'abandoned', progress: FINAL };
    case 'intent':
    case 'rollback':
    case 'completed':
      // Recorded as events only: an intent is decided by the planner, a rollback by the
      // secret-writer (its written(rollback) moves the state), and `completed` is signed
      // with Caracal's key, which takes no decisions here.
      return undefined;
  }
}

/** The position after `event`, or why the event changes nothing. */
export function next(current: Position | undefined, event: LifecycleEvent, plan?: Plan): Transition {
  const to = target(event, plan);
  if (!to) return { advanced: false, position: current, why: `${event.name} is recorded without changing the state` };
  if (isFinal(current)) return { advanced: false, position: current, why: `the rotation already ended (${current!.state})` };
  if (current && to.progress <= current.progress) {
    return { advanced: false, position: current, why: `${event.name} is behind the rotation's position (${current.state})` };
  }
  return { advanced: true, position: to };
}

/**
 * Whether the rotation has already moved past `event`: a stage that acts on
 * it again (an old entry replayed after its de-duplication mark is gone)
 * would repeat an effect the rotation has left behind. A stage's own input
 * is normally at or just behind the position (the recorder may have seen it
 * first), so only a position strictly beyond the event, or an ended
 * rotation, supersedes it.
 */
export function isSuperseded(current: Position | undefined, event: LifecycleEvent, plan?: Plan): boolean {
  if (!current) return false;
  if (isFinal(current)) return true;
  const at = target(event, plan);
  return at !== undefined && current.progress > at.progress;
}
