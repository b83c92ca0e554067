import type { EventData, EventName, Plan } from '@caracal-rotation/contracts';
import { lifecycleEvent, next, retireAfter, type LifecycleEvent, type Position } from '@caracal-rotation/lifecycle';
import type { RotationFacts } from './records.js';

/** What folding needs of one event: its name, time, validated data and the plan it names (when known). */
export interface FoldEvent {
  name: EventName;
  occurredAt: string;
  /** Stream entry id: the last tie-breaker of the order of events. */
  entryId: string;
  data: unknown;
  plan?: Plan;
}

type Subject = { material?: string; zone_id?: string; role?: string; batch_id?: string };
type Stage = EventData['written'] | EventData['rolled'] | EventData['verified'] | EventData['retiring'] | EventData['rollback'];

const AFTER_EVERYTHING = Number.MAX_SAFE_INTEGER;
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The lifecycle's view of an event; a `requested` may be any JSON object (it is recorded even when invalid). */
function asLifecycleEvent(e: FoldEvent): LifecycleEvent {
  const data = e.data !== null && typeof e.data === 'object' ? (e.data as Parameters<typeof lifecycleEvent>[1]) : {};
  return lifecycleEvent(e.name, e.name === 'requested' ? {} : data);
}

/** Where an event would put a rotation on its own: events of one rotation are folded in this order. */
function progressOf(e: FoldEvent): number {
  const t = next(undefined, asLifecycleEvent(e), e.plan);
  return t.advanced ? t.position.progress : AFTER_EVERYTHING;
}

export function foldOrder(a: FoldEvent, b: FoldEvent): number {
  return progressOf(a) - progressOf(b) || Date.parse(a.occurredAt) - Date.parse(b.occurredAt) || a.entryId.localeCompare(b.entryId);
}

/**
 * A rotation's facts being folded: `set` overwrites, `fill` writes only what
 * is still unknown, so whichever event arrives first leaves what it knows and
 * later ones complete it.
 */
class Draft {
  constructor(readonly facts: RotationFacts) {}

  set<K extends keyof RotationFacts>(column: K, value: RotationFacts[K] | undefined): void {
    if (value !== undefined) this.facts[column] = value;
  }

  fill<K extends keyof RotationFacts>(column: K, value: RotationFacts[K] | undefined): void {
    if (value !== undefined && value !== null && this.facts[column] === null) this.facts[column] = value;
  }

  subject(d: Subject): void {
    this.fill('material', text(d.material));
    this.fill('zoneId', text(d.zone_id));
    this.fill('role', text(d.role));
    this.fill('batchId', text(d.batch_id));
  }

  /** What a stage event names: its subject and its plan. */
  stage(d: Stage): void {
    this.subject(d);
    this.fill('planId', d.plan.id);
  }

  /** The request as the planner recorded it in the plan: authoritative over what the request said. */
  planned(plan: Plan): void {
    this.set('emergency', plan.emergency);
    this.set('reason', plan.requested.reason);
    this.set('ticket', plan.requested.ticket ?? this.facts.ticket ?? undefined);
    this.set('requestedAt', plan.requested.requested_at);
  }

  /** Details of how a rotation ended: set by the event that ended it, else only filled. */
  ending<K extends keyof RotationFacts>(advanced: boolean, column: K, value: RotationFacts[K] | undefined): void {
    if (advanced) this.set(column, value);
    else this.fill(column, value);
  }
}

/** Data columns each event fills; `advanced` tells whether the event moved the state. */
function applyData(d: Draft, e: FoldEvent, advanced: boolean): void {
  const state = d.facts.state;
  switch (e.name) {
    case 'requested': {
      const r = (e.data ?? {}) as Record<string, unknown>;
      d.fill('material', text(r.material));
      d.fill('zoneId', text(r.zone_id));
      d.fill('role', text(r.role));
      d.fill('reason', text(r.reason));
      d.fill('ticket', text(r.ticket));
      d.fill('requestedAt', e.occurredAt);
      // The plan, once known, is authoritative on these.
      if (d.facts.planId === null) {
        d.set('emergency', r.emergency === true);
        d.set('dryRun', r.dry_run === true);
      }
      return;
    }
    case 'queued': {
      const q = e.data as EventData['queued'];
      d.subject(q);
      d.fill('actor', q.actor);
      return;
    }
    case 'planned': {
      const p = e.data as EventData['planned'];
      // The planner's canonical names win over what was requested (aliases, case).
      d.set('material', p.material);
      d.set('zoneId', p.zone_id);
      d.set('role', p.role);
      d.set('batchId', p.batch_id);
      d.set('planId', p.plan.id);
      d.set('actor', p.actor);
      d.set('dryRun', p.dry_run);
      d.set('batchParent', p.batch !== undefined);
      if (e.plan) d.planned(e.plan);
      return;
    }
    case 'rejected': {
      const r = e.data as EventData['rejected'];
      // A refused intent leaves the rotation as it was.
      if (r.intent) return;
      d.subject({ material: r.material, zone_id: r.zone_id, batch_id: r.batch_id });
      if (state !== 'rejected') return;
      d.ending(advanced, 'failure', `${r.reason_code}: ${r.message}`);
      d.fill('actor', r.actor);
      return;
    }
    case 'abandoned': {
      const a = e.data as EventData['abandoned'];
      d.subject(a);
      if (state === 'abandoned') d.ending(advanced, 'failure', `abandoned by ${a.actor}: ${a.reason}${a.ticket ? ` [${a.ticket}]` : ''}`);
      return;
    }
    case 'written': {
      const w = e.data as EventData['written'];
      d.stage(w);
      // The stage and deploy phases write the new material; retire and rollback only complete what is unknown.
      const write = w.phase === 'stage' || w.phase === 'deploy' ? d.set.bind(d) : d.fill.bind(d);
      write('newKid', w.new.kid);
      write('secretLocation', w.new.location);
      write('previousKid', w.previous?.kid);
      return;
    }
    case 'verified': {
      const v = e.data as EventData['verified'];
      d.stage(v);
      if (!v.ok) d.set('diagnosis', v.diagnosis);
      if (v.ok && v.phase === 'deploy' && e.plan) d.set('retireAfter', retireAfter(new Date(e.occurredAt), e.plan).toISOString());
      if (v.ok && v.phase === 'retire') {
        d.set('retiredAt', e.occurredAt);
        d.set('completedAt', e.occurredAt);
      }
      return;
    }
    case 'rolled':
    case 'retiring':
    case 'rollback':
      return d.stage(e.data as Stage);
    case 'failed': {
      const f = e.data as EventData['failed'];
      d.subject(f);
      d.fill('diagnosis', f.diagnosis);
      if (state !== 'failed') return;
      d.ending(advanced, 'failure', f.error);
      if (advanced || f.rolled_back) d.set('rolledBack', f.rolled_back);
      return;
    }
    case 'intent':
    case 'completed':
      // Recorded as events only: an intent is the planner's to decide, and
      // `completed` is signed with Caracal's key, which decides nothing here.
      return;
  }
}

/** The phase a rotation is in after an event moved it. */
function phaseAfter(e: FoldEvent, facts: RotationFacts): string | null {
  const data = (e.data ?? {}) as { phase?: string; ok?: boolean };
  switch (e.name) {
    case 'written':
    case 'rolled':
    case 'verified':
      return facts.state === 'rolling_back' ? 'rollback' : (data.phase ?? facts.phase);
    case 'retiring':
      return 'retire';
    case 'failed':
      return data.phase ?? facts.phase;
    default:
      return facts.phase;
  }
}

export const emptyFacts = (rotationId: string): RotationFacts => ({
  rotationId,
  batchId: null,
  material: null,
  zoneId: null,
  role: null,
  state: 'requested',
  progress: -1,
  phase: null,
  actor: null,
  reason: null,
  ticket: null,
  emergency: false,
  dryRun: false,
  batchParent: false,
  requestedAt: null,
  completedAt: null,
  newKid: null,
  previousKid: null,
  secretLocation: null,
  retireAfter: null,
  retiredAt: null,
  failure: null,
  diagnosis: null,
  rolledBack: false,
  planId: null,
});

/**
 * Folds new events of one rotation onto what the projection knows of it, in
 * order of progress. The state comes only from libs/lifecycle `next`: an
 * event that does not advance it is still folded for the data it carries.
 * Answers undefined when the rotation has no row and no event gives it a
 * position (an intent or a `completed` naming an unknown rotation is recorded
 * as an event and creates no rotation).
 */
export function foldRotation(rotationId: string, known: RotationFacts | undefined, events: readonly FoldEvent[]): RotationFacts | undefined {
  const draft = new Draft(known ? { ...known } : emptyFacts(rotationId));
  let position: Position | undefined = known ? { state: known.state, progress: known.progress } : undefined;
  for (const e of [...events].sort(foldOrder)) {
    const t = next(position, asLifecycleEvent(e), e.plan);
    if (t.advanced) {
      position = t.position;
      draft.facts.state = position.state;
      draft.facts.progress = position.progress;
      draft.facts.phase = phaseAfter(e, draft.facts);
    }
    applyData(draft, e, t.advanced);
  }
  return position ? draft.facts : undefined;
}
