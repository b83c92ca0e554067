export { MIGRATIONS, type Migration } from './migrations/index.js';
export { migrate, pendingMigrations } from './migrate.js';
export { createDatabaseIfMissing } from './create-database.js';
export { transaction, type Database } from './transaction.js';

// Writing: the recorder's projection of events, and its drain gate and retirement timer.
export { applyEvents, applyEvent, type ProjectedEvent, type BatchResult, type ApplyResult, type StateChange } from './apply-events.js';
export { plansById, type StoredPlan } from './plans.js';
export { drainMarksOf, recordDrainEvidence, recordDrainMarks, type DrainEvidence, type DrainMark, type RotationDrainMark } from './drains.js';
export { dueRetirements, recordRetiringPublished, withRetirementLock, type DueOptions, type DueRetirement } from './retirement.js';

// Reading: the projection's reads in one place (status page, CLI, metrics, rotation policies).
export { getRotation, listRotations } from './read-model/rotations.js';
export { materialStatus, inFlightCounts, rotationsInProgress, retirementsDue, inFlightSubjects, existingRotations, type InFlightCount } from './read-model/status.js';
export { rotationEvents, rotationChecks, rotationDrains, rotationEvidence, eventsOfRotations, checksOfRotations } from './read-model/evidence.js';
export { inFlightRotations, recentlyEnded, recentFailures } from './read-model/views.js';
export { rotationPath } from './read-model/path.js';
export { readConsistent } from './read-model/read-only.js';
export { rotationPosition, projectionReplayGuard, replayGuardFor, noReplayGuard, type ReplayGuard } from './read-model/positions.js';
export type {
  InFlightRotation,
  ListRotationsFilter,
  MaterialStatusRecord,
  PathStepView,
  RotationCheckRecord,
  RotationDetail,
  RotationDrainRecord,
  RotationEventRecord,
  RotationEvidence,
  RotationFacts,
  RotationRecord,
  StepStatus,
} from './records.js';
