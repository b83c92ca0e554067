import type { Plan, PlanRef } from '@caracal-rotation/contracts';
import type { PathStep, RotationState } from '@caracal-rotation/lifecycle';

/**
 * What the projection knows of one rotation: the columns of `rotations` the
 * projection writes. Times are ISO 8601 strings. `state` and `progress` are
 * the lifecycle's position (libs/lifecycle `next`).
 */
export interface RotationFacts {
  rotationId: string;
  batchId: string | null;
  material: string | null;
  zoneId: string | null;
  role: string | null;
  state: RotationState;
  progress: number;
  /** The phase of the step that last moved the rotation (stage, deploy, retire, rollback). */
  phase: string | null;
  /** The operator the planner authenticated (the `actor` of `planned`, or of the `rejected` request). */
  actor: string | null;
  reason: string | null;
  ticket: string | null;
  emergency: boolean;
  dryRun: boolean;
  /** The request of a batch: its zones are rotations of their own. */
  batchParent: boolean;
  requestedAt: string | null;
  completedAt: string | null;
  newKid: string | null;
  previousKid: string | null;
  secretLocation: string | null;
  /** End of the rollback window: the passing deploy verification plus the plan's safety window. */
  retireAfter: string | null;
  retiredAt: string | null;
  failure: string | null;
  diagnosis: string | null;
  rolledBack: boolean;
  planId: string | null;
}

/** One row of `rotations`, as the CLI and the status page read it. */
export interface RotationRecord extends RotationFacts {
  createdAt: string;
  updatedAt: string;
}

/** A rotation with the plan it follows (null before `planned`, or when the plan never reached the projection). */
export interface RotationDetail extends RotationRecord {
  plan: Plan | null;
  planRef: PlanRef | null;
}

export interface RotationEventRecord {
  eventId: string;
  rotationId: string;
  type: string;
  stream: string;
  entryId: string;
  occurredAt: string;
  producer: string;
  kid: string;
  /** Who signed it: `bus`, `caracal`, or `operator:<name>`; null for events recorded before signers were kept. */
  signer: string | null;
  data: unknown;
}

export interface RotationCheckRecord {
  eventId: string;
  rotationId: string;
  phase: string;
  name: string;
  ok: boolean;
  detail: string;
  durationMs: number;
}

export interface RotationDrainRecord {
  rotationId: string;
  stream: string;
  group: string;
  mark: string;
  pending: number | null;
  lag: number | null;
  drained: boolean;
  /** No live consumer read the group for longer than the bound: it no longer holds retirement. */
  abandoned: boolean;
  /** The smallest idle time of the group's consumers at the last inspection (null: none, or not inspected). */
  idleMs: number | null;
  markedAt: string;
  checkedAt: string | null;
}

/** Everything recorded as evidence of one rotation. */
export interface RotationEvidence {
  events: RotationEventRecord[];
  checks: RotationCheckRecord[];
  drains: RotationDrainRecord[];
}

/** One row of the `rotation_status` view: per material, zone and role. */
export interface MaterialStatusRecord {
  material: string;
  zoneId: string | null;
  role: string | null;
  latestRotationId: string;
  latestState: RotationState;
  latestUpdatedAt: string;
  currentRotationId: string | null;
  currentKid: string | null;
  currentSince: string | null;
  materialAgeSeconds: number | null;
}

export interface ListRotationsFilter {
  state?: RotationState;
  /** Any of these states. */
  states?: readonly RotationState[];
  material?: string;
  batchId?: string;
  /** Only rotations being worked on: not ended, not a dry run, not the request of a batch. */
  inFlight?: boolean;
  /** At most this many, newest first. */
  limit: number;
}

export type StepStatus = 'done' | 'failed' | 'current' | 'pending';

/** One step of a rotation's expected path (libs/lifecycle `expectedPath`), with how far the rotation got. */
export interface PathStepView extends PathStep {
  /** `planned`, `written:deploy`, `retiring`, …: the event that marks the step done, with its phase. */
  key: string;
  status: StepStatus;
  /** When the step's event occurred (done and failed steps). */
  at: string | null;
}

/** A rotation in flight, the path it is on (empty while no plan is known) and what was recorded of it. */
export interface InFlightRotation {
  rotation: RotationRecord;
  path: PathStepView[];
  events: RotationEventRecord[];
}
