export { createVerifier, type VerifierDeps } from './verifier.js';
export { completedAnnouncer } from './announcer.js';
export { MaterialValues } from './material-values.js';
export { CHECKS } from './checks/registry.js';
export { SYMPTOMS, diagnose } from './diagnose.js';
export { verifierConfigSchema, type VerifierConfig } from './config.js';
