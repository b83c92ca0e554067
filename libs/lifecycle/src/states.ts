/** The states of a rotation, as the projection records them (`rotations.state`). */
export const ROTATION_STATES = [
  'requested',
  'queued',
  'planned',
  'rolling',
  'verifying',
  'deploying',
  'waiting_retirement',
  'retiring',
  'completed',
  'rolling_back',
  'failed',
  'rejected',
  'abandoned',
] as const;
export type RotationState = (typeof ROTATION_STATES)[number];

export const TERMINAL_STATES: ReadonlySet<RotationState> = new Set(['completed', 'failed', 'rejected', 'abandoned']);

export const isTerminal = (state: RotationState): boolean => TERMINAL_STATES.has(state);

/** States in which a rotation holds its class lock and is worked on. */
export const IN_FLIGHT_STATES: readonly RotationState[] = ROTATION_STATES.filter((s) => !TERMINAL_STATES.has(s) && s !== 'requested' && s !== 'queued');
