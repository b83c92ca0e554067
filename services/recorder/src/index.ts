export { recorderConfigSchema, type RecorderConfig } from './config.js';
export { startRecorder, type Recorder } from './recorder.js';
export { createPool } from './database.js';
export { projectionReadiness } from './readiness.js';
export { retireDueRotations, type RetirementDeps } from './retirement-timer.js';
export { schedulePolicyRotations, duePolicyRequests, humanDuration, policyGuardKey, SCHEDULER_ACTOR, type PolicyDeps, type PolicyRequest } from './policy-scheduler.js';
export { statusRoutes, type StatusRouteOptions } from './status/routes.js';
export { readStatus, type StatusSnapshot, type MaterialView, type RotationView, type FailureView, type TimelineStep } from './status/snapshot.js';
export { renderStatusPage } from './status/render.js';
