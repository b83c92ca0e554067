export { ROTATION_STATES, TERMINAL_STATES, IN_FLIGHT_STATES, isTerminal, type RotationState } from './states.js';
export { lifecycleEvent, type LifecycleEvent } from './events.js';
export { next, isFinal, isSuperseded, FINAL, type Position, type Transition } from './transitions.js';
export { actionsFor, actionOf, verificationOutcome, isOrchestratorHolder, type Action } from './actions.js';
export { forwardPhases, stepsOf, hasPhase, phaseAfter, rollsIn } from './steps.js';
export { expectedPath, rollbackPath, type PathStep, type StepKind } from './path.js';
export { retireAfter, canRollback, writerMayApply, type Verdict, type WriterRecord, type WriterVerdict } from './window.js';
