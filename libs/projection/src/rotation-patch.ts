import type { EventData, EventName, Phase } from '@caracal-rotation/contracts';
import { stepOf } from './states.js';

/** Columns of `rotations` an event may write. */
export type RotationColumn =
  | 'batch_id'
  | 'material'
  | 'zone_id'
  | 'role'
  | 'state'
  | 'progress'
  | 'phase'
  | 'actor'
  | 'reason'
  | 'ticket'
  | 'emergency'
  | 'dry_run'
  | 'requested_at'
  | 'completed_at'
  | 'new_kid'
  | 'previous_kid'
  | 'secret_location'
  | 'retire_after'
  | 'retired_at'
  | 'failure'
  | 'diagnosis'
  | 'rolled_back'
  | 'plan'
  | 'context';

export type StoredRotation = Record<RotationColumn, unknown> & { progress: number };
export type RotationPatch = Partial<Record<RotationColumn, unknown>>;

/** The projection-relevant part of an event. */
export interface ProjectedEvent {
  readonly occurredAt: string;
  readonly data: unknown;
}

type Carried = EventData['written'] | EventData['rolled'] | EventData['verified'] | EventData['retiring'];
type Subject = { material?: string; zone_id?: string; role?: string; batch_id?: string };

/**
 * `set` overwrites; `fill` writes only a column still empty, so whichever
 * event arrives first (in any order) leaves what it knows and later events
 * complete it without overwriting.
 */
class PatchBuilder {
  readonly patch: RotationPatch = {};
  constructor(private readonly row: StoredRotation) {}

  set(column: RotationColumn, value: unknown): void {
    if (value !== undefined) this.patch[column] = value;
  }

  fill(column: RotationColumn, value: unknown): void {
    if (value === undefined || value === null || column in this.patch) return;
    if (this.row[column] === null || this.row[column] === undefined) this.patch[column] = value;
  }

  get hasPlan(): boolean {
    return this.row.plan !== null && this.row.plan !== undefined;
  }
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const timestampOr = (value: string, fallback: string): string => (Number.isNaN(Date.parse(value)) ? fallback : value);
const definedOnly = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

function fillSubject(b: PatchBuilder, d: Subject): void {
  b.fill('material', d.material);
  b.fill('zone_id', d.zone_id);
  b.fill('role', d.role);
  b.fill('batch_id', d.batch_id);
}

function fillPlan(b: PatchBuilder, plan: EventData['planned']['plan']): void {
  if (!b.hasPlan) {
    b.set('dry_run', plan.dry_run);
    b.set('emergency', plan.emergency);
  }
  b.fill('plan', plan);
  b.fill('actor', plan.requested.actor);
  b.fill('reason', plan.requested.reason);
  b.fill('ticket', plan.requested.ticket);
  b.fill('requested_at', plan.requested.requested_at);
}

/** What `retiring` must carry forward (retiringDataSchema without drain and window). */
function contextOf(d: Carried): Record<string, unknown> {
  return definedOnly({
    material: d.material,
    zone_id: d.zone_id,
    role: d.role,
    batch_id: d.batch_id,
    plan: d.plan,
    new: d.new,
    previous: d.previous,
  });
}

function projectCarried(b: PatchBuilder, d: Carried, phase: Phase | 'retiring'): void {
  fillSubject(b, d);
  fillPlan(b, d.plan);
  // The deploy phase's material references are the ones retirement acts on.
  if (phase === 'deploy') b.set('context', contextOf(d));
  else b.fill('context', contextOf(d));
}

function projectWritten(b: PatchBuilder, d: EventData['written']): void {
  projectCarried(b, d, d.phase);
  const write = d.phase === 'stage' || d.phase === 'deploy' ? b.set.bind(b) : b.fill.bind(b);
  write('new_kid', d.new.kid);
  write('secret_location', d.new.location);
  write('previous_kid', d.previous?.kid);
}

function projectVerified(b: PatchBuilder, d: EventData['verified'], occurredAt: string): void {
  projectCarried(b, d, d.phase);
  if (!d.ok) b.set('diagnosis', d.diagnosis);
  if (d.ok && d.phase === 'deploy') {
    // The rollback window ends a safety window after the passing deploy verification.
    b.set('retire_after', new Date(Date.parse(occurredAt) + d.plan.safety_window_ms).toISOString());
  }
}

const PROJECTORS: { [K in EventName]: (b: PatchBuilder, data: EventData[K] | Record<string, unknown>, occurredAt: string) => void } = {
  requested: (b, raw, occurredAt) => {
    const d = raw as Record<string, unknown>;
    b.fill('material', text(d.material));
    b.fill('zone_id', text(d.zone_id));
    b.fill('role', text(d.role));
    b.fill('actor', text(d.actor));
    b.fill('reason', text(d.reason));
    b.fill('ticket', text(d.ticket));
    b.fill('requested_at', occurredAt);
    // The plan, once known, is authoritative on these.
    if (!b.hasPlan) {
      b.set('emergency', d.emergency === true);
      b.set('dry_run', d.dry_run === true);
    }
  },
  queued: (b, d) => fillSubject(b, d as EventData['queued']),
  planned: (b, raw) => {
    const d = raw as EventData['planned'];
    // The planner's canonical names win over what was requested (aliases, case).
    b.set('material', d.material);
    b.set('zone_id', d.zone_id);
    b.set('role', d.role);
    b.set('batch_id', d.batch_id);
    b.set('plan', d.plan);
    b.set('dry_run', d.plan.dry_run);
    b.set('emergency', d.plan.emergency);
    fillPlan(b, d.plan);
  },
  rejected: (b, raw) => {
    const d = raw as EventData['rejected'];
    fillSubject(b, { material: d.material, zone_id: d.zone_id, batch_id: d.batch_id });
    b.set('failure', `${d.reason_code}: ${d.message}`);
  },
  written: (b, d) => projectWritten(b, d as EventData['written']),
  rolled: (b, raw) => {
    const d = raw as EventData['rolled'];
    projectCarried(b, d, d.phase);
  },
  verified: (b, d, occurredAt) => projectVerified(b, d as EventData['verified'], occurredAt),
  retiring: (b, d) => projectCarried(b, d as EventData['retiring'], 'retiring'),
  completed: (b, raw, occurredAt) => {
    const d = raw as EventData['completed'];
    fillSubject(b, d);
    const at = timestampOr(d.completed_at, occurredAt);
    b.set('completed_at', at);
    b.set('retired_at', at);
    b.fill('new_kid', d.new_kid);
    b.fill('previous_kid', d.previous_kid);
  },
  failed: (b, raw) => {
    const d = raw as EventData['failed'];
    fillSubject(b, d);
    b.set('failure', d.error);
    b.set('rolled_back', d.rolled_back);
    b.set('diagnosis', d.diagnosis);
  },
};

/**
 * The columns an event changes on its rotation's row. The state moves only to
 * a higher progress, so late, duplicated or reordered events never move a
 * rotation backwards and terminal states stay final.
 */
export function rotationPatch(row: StoredRotation, name: EventName, event: ProjectedEvent): RotationPatch {
  const b = new PatchBuilder(row);
  const step = stepOf(name, (event.data ?? {}) as { phase?: unknown; ok?: unknown });
  if (step.progress > row.progress) {
    b.set('state', step.state);
    b.set('progress', step.progress);
    b.set('phase', step.phase);
  }
  (PROJECTORS[name] as (b: PatchBuilder, data: unknown, occurredAt: string) => void)(b, event.data, event.occurredAt);
  return b.patch;
}
