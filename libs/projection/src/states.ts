import type { EventName, Phase } from '@caracal-rotation/contracts';

/** `rotations.state` (DESIGN §6; which event leads to which: docs/pipeline.md). */
export const ROTATION_STATES = [
  'requested',
  'queued',
  'planned',
  'deploying',
  'rolling',
  'verifying',
  'waiting_retirement',
  'retiring',
  'completed',
  'rolling_back',
  'failed',
  'rejected',
  'abandoned',
] as const;
export type RotationState = (typeof ROTATION_STATES)[number];

export const TERMINAL_STATES: readonly RotationState[] = ['completed', 'failed', 'rejected', 'abandoned'];

/** Where an event puts a rotation: its state, and how far along that is. */
export interface Step {
  state: RotationState;
  /** Events are projected in any order; the state moves only to a higher progress. */
  progress: number;
  phase: Phase | null;
}

/** Terminal states share the highest progress, so whichever arrives first is final. */
export const TERMINAL_PROGRESS = 100;
export const RETIRING_PROGRESS = 40;

const PHASE_BASE: Record<Phase, number> = { stage: 10, deploy: 20, rollback: 30, retire: RETIRING_PROGRESS };
const STEP_OFFSET = { written: 1, rolled: 2, verified: 3 } as const;

function phaseStep(name: 'written' | 'rolled' | 'verified', phase: Phase, ok: boolean): Step {
  const progress = PHASE_BASE[phase] + STEP_OFFSET[name];
  if (phase === 'retire') return { state: 'retiring', progress, phase };
  if (phase === 'rollback') return { state: 'rolling_back', progress, phase };
  // A failed stage or deploy verification starts the rollback phase.
  if (name === 'verified' && !ok) return { state: 'rolling_back', progress: PHASE_BASE.rollback, phase: 'rollback' };
  if (name === 'written') return { state: 'rolling', progress, phase };
  if (name === 'rolled') return { state: 'verifying', progress, phase };
  return { state: phase === 'stage' ? 'deploying' : 'waiting_retirement', progress, phase };
}

/** `caracal-rotate abandon` publishes `failed` as this stage: the rotation was given up, not failed by the pipeline. */
export const OPERATOR_STAGE = 'operator';

/** The step an event stands for; `data` is read only for `phase`, `ok` and (on `failed`) `stage`. */
export function stepOf(name: EventName, data: { phase?: unknown; ok?: unknown; stage?: unknown }): Step {
  switch (name) {
    case 'requested':
      return { state: 'requested', progress: 0, phase: null };
    case 'queued':
      return { state: 'queued', progress: 1, phase: null };
    case 'planned':
      return { state: 'planned', progress: 2, phase: null };
    case 'retiring':
      return { state: 'retiring', progress: RETIRING_PROGRESS, phase: 'retire' };
    case 'rejected':
      return { state: 'rejected', progress: TERMINAL_PROGRESS, phase: null };
    case 'completed':
      return { state: 'completed', progress: TERMINAL_PROGRESS, phase: 'retire' };
    case 'failed':
      // Same terminal progress as `failed`: whichever terminal event arrives first stays final.
      if (data.stage === OPERATOR_STAGE) return { state: 'abandoned', progress: TERMINAL_PROGRESS, phase: (data.phase as Phase | undefined) ?? null };
      return { state: 'failed', progress: TERMINAL_PROGRESS, phase: (data.phase as Phase | undefined) ?? null };
    case 'written':
    case 'rolled':
    case 'verified':
      return phaseStep(name, data.phase as Phase, data.ok !== false);
  }
}
