export { MIGRATIONS, type Migration } from './migrations/index.js';
export { migrate, pendingMigrations } from './migrate.js';
export { createDatabaseIfMissing } from './create-database.js';
export { transaction, type Database } from './transaction.js';
export { ROTATION_STATES, TERMINAL_STATES, stepOf, type RotationState, type Step } from './states.js';
export { applyEvent, type ApplyOptions, type ApplyResult } from './apply-event.js';
export { drainMarksOf, recordDrainEvidence, recordDrainMarks, type DrainEvidence, type DrainMark } from './drains.js';
export { lockDueRetirements, markRetiring, type DueRetirement } from './retirement.js';
export { getRotation, listRotations } from './read-rotations.js';
export { rotationChecks, rotationDrains, rotationEvents } from './read-evidence.js';
export { materialStatus, rotationsInProgress } from './read-status.js';
export type {
  ListRotationsFilter,
  MaterialStatusRecord,
  RotationCheckRecord,
  RotationDrainRecord,
  RotationEventRecord,
  RotationRecord,
} from './records.js';
