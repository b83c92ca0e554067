import type { RotationState } from './states.js';

/** One row of `rotations`, as the CLI and the status page read it. Times are ISO 8601 strings. */
export interface RotationRecord {
  rotationId: string;
  batchId: string | null;
  material: string | null;
  zoneId: string | null;
  role: string | null;
  state: RotationState;
  phase: string | null;
  progress: number;
  actor: string | null;
  reason: string | null;
  ticket: string | null;
  emergency: boolean;
  dryRun: boolean;
  requestedAt: string | null;
  completedAt: string | null;
  newKid: string | null;
  previousKid: string | null;
  secretLocation: string | null;
  retireAfter: string | null;
  retiredAt: string | null;
  failure: string | null;
  diagnosis: string | null;
  rolledBack: boolean;
  plan: unknown;
  createdAt: string;
  updatedAt: string;
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
  markedAt: string;
  checkedAt: string | null;
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
  material?: string;
  batchId?: string;
  /** At most this many, newest first. */
  limit: number;
}
