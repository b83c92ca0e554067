export { recorderConfigSchema, type RecorderConfig } from './config.js';
export { startRecorder, type Recorder } from './recorder.js';
export { createPool } from './database.js';
export { projectionReadiness } from './readiness.js';
export { retireDueRotations, type RetirementDeps } from './retirement-timer.js';
