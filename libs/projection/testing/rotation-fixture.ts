import { createHash, randomUUID } from 'node:crypto';
import {
  EVENT_DATA_SCHEMAS,
  eventType,
  newRotationId,
  stageEventId,
  type CheckResult,
  type EventName,
  type IntentAction,
  type Phase,
  type Plan,
  type PlanRef,
  type RejectionCode,
  type RotationEvent,
} from '@caracal-rotation/contracts';
import { stepsOf } from '@caracal-rotation/lifecycle';
import type { ProjectedEvent } from '../src/apply-events.js';
import { dualPlan } from './plans.js';

/** An event as its stage would emit it: name, deterministic id and contract-valid data. */
export interface FixtureEvent {
  name: EventName;
  eventId: string;
  rotationId: string;
  data: unknown;
}

/** The reference PlanStore gives a plan: its id and the SHA-256 of its JSON. */
export const planRefOf = (id: string, plan: Plan): PlanRef => ({ id, hash: createHash('sha256').update(JSON.stringify(plan)).digest('hex') });

export interface RotationFixtureOptions {
  rotationId?: string;
  plan?: Plan;
  /** The plan's reference; by default the plan stored under the rotation id (a batch's children share their batch's). */
  planRef?: PlanRef;
  batchId?: string;
  /** The operator the planner authenticated. */
  actor?: string;
  newKid?: string;
  previousKid?: string;
}

/** Builds the events of one rotation in the shapes of libs/contracts, validated, as the stages emit them. */
export class RotationFixture {
  readonly rotationId: string;
  readonly plan: Plan;
  readonly planRef: PlanRef;
  readonly batchId: string | undefined;
  readonly actor: string;
  readonly newKid: string;
  readonly previousKid: string;

  constructor(options: RotationFixtureOptions = {}) {
    this.rotationId = options.rotationId ?? newRotationId();
    this.plan = options.plan ?? dualPlan();
    this.planRef = options.planRef ?? planRefOf(options.batchId ?? this.rotationId, this.plan);
    this.batchId = options.batchId;
    this.actor = options.actor ?? this.plan.requested.actor;
    this.newKid = options.newKid ?? 'a1b2c3d4e5f60718';
    this.previousKid = options.previousKid ?? '0f1e2d3c4b5a6978';
  }

  private event(name: EventName, eventId: string, data: unknown): FixtureEvent {
    return { name, eventId, rotationId: this.rotationId, data: EVENT_DATA_SCHEMAS[name].parse(data) };
  }

  private get subject() {
    return {
      material: this.plan.material,
      ...(this.plan.zone_id === undefined ? {} : { zone_id: this.plan.zone_id }),
      ...(this.plan.role === undefined ? {} : { role: this.plan.role }),
      ...(this.batchId === undefined ? {} : { batch_id: this.batchId }),
    };
  }

  private get staged() {
    return { ...this.subject, plan: this.planRef };
  }

  /** The operator's request (no actor: who signed it is the actor). */
  requested(extra: Record<string, unknown> = {}): FixtureEvent {
    const { reason, ticket } = this.plan.requested;
    const data = { material: this.plan.material, reason, ...(ticket ? { ticket } : {}), ...(this.plan.zone_id ? { zone_id: this.plan.zone_id } : {}), ...extra };
    return { name: 'requested', eventId: randomUUID(), rotationId: this.rotationId, data };
  }

  intent(action: IntentAction, reason = `${action} please`): FixtureEvent {
    return this.event('intent', randomUUID(), { action, reason });
  }

  queued(waitingFor: Plan['material'] = 'AUDIT_HMAC_KEY'): FixtureEvent {
    return this.event('queued', stageEventId(this.rotationId, 'planner', 'queue'), { ...this.subject, waiting_for: waitingFor, position: 1, actor: this.plan.requested.actor });
  }

  planned(options: { dryRun?: boolean; batchZones?: number } = {}): FixtureEvent {
    const batch = options.batchZones === undefined ? {} : { batch: { zones: options.batchZones } };
    return this.event('planned', stageEventId(this.rotationId, 'planner', 'plan'), { ...this.staged, actor: this.actor, dry_run: options.dryRun === true, ...batch });
  }

  rejected(code: RejectionCode, options: { intent?: IntentAction; actor?: string; message?: string } = {}): FixtureEvent {
    const step = options.intent ? `${options.intent}/${randomUUID()}` : 'reject';
    return this.event('rejected', stageEventId(this.rotationId, 'planner', step), {
      material: this.plan.material,
      ...(this.batchId ? { batch_id: this.batchId } : {}),
      ...(options.intent ? { intent: options.intent } : {}),
      ...(options.actor ? { actor: options.actor } : {}),
      reason_code: code,
      message: options.message ?? `refused: ${code}`,
    });
  }

  rollback(actor = 'bob@ops', reason = 'the api misbehaves'): FixtureEvent {
    return this.event('rollback', stageEventId(this.rotationId, 'planner', `rollback/${randomUUID()}`), { ...this.staged, actor, reason });
  }

  abandoned(actor = 'bob@ops', reason = 'stuck for hours', state = 'in_flight'): FixtureEvent {
    return this.event('abandoned', stageEventId(this.rotationId, 'planner', 'abandon'), { ...this.subject, actor, reason, state });
  }

  written(phase: Phase, options: { newKid?: string; changed?: boolean } = {}): FixtureEvent {
    const location = this.plan.secret ? `file:${this.plan.secret.file}` : `sts:zones/${this.plan.zone_id ?? ''}`;
    return this.event('written', stageEventId(this.rotationId, 'secret-writer', phase), {
      phase,
      ...this.staged,
      new: { kid: options.newKid ?? this.newKid, location },
      previous: { kid: this.previousKid },
      changed: options.changed ?? stepsOf(this.plan, phase).write,
    });
  }

  rolled(phase: Phase): FixtureEvent {
    const at = new Date().toISOString();
    const holders = stepsOf(this.plan, phase)
      .roll.flat()
      .map((service) => ({ service, ok: true, restarted_at: at, ready_at: at, attempts: 1 }));
    return this.event('rolled', stageEventId(this.rotationId, 'roller', phase), { phase, ...this.staged, holders });
  }

  verified(phase: Phase, ok = true): FixtureEvent {
    const checks: CheckResult[] = stepsOf(this.plan, phase).checks.map((name, i) => ({
      name,
      ok: ok || i > 0,
      detail: ok || i > 0 ? 'ok' : `${name} failed: api did not become ready`,
      duration_ms: 5 + i,
    }));
    const diagnosis = ok ? {} : { diagnosis: 'api did not become ready: check the new key file is readable' };
    return this.event('verified', stageEventId(this.rotationId, 'verifier', phase), { phase, ...this.staged, ok, checks, ...diagnosis });
  }

  retiring(windowEndedAt = new Date().toISOString()): FixtureEvent {
    return this.event('retiring', stageEventId(this.rotationId, 'recorder', 'retire'), { ...this.staged, drain: [], window_ended_at: windowEndedAt });
  }

  failed(phase: Phase | undefined, rolledBack: boolean, stage = 'verifier', error = `${phase ?? 'the'} verification failed`): FixtureEvent {
    return this.event('failed', stageEventId(this.rotationId, stage, `${phase ?? 'rotation'}-failed`), {
      ...this.subject,
      stage,
      ...(phase ? { phase } : {}),
      error,
      rolled_back: rolledBack,
    });
  }

  completed(completedAt = new Date().toISOString()): FixtureEvent {
    return this.event('completed', stageEventId(this.rotationId, 'verifier', 'completed'), {
      ...this.subject,
      new_kid: this.newKid,
      previous_kid: this.previousKid,
      completed_at: completedAt,
    });
  }

  /** The steps of one phase: write, roll where anything restarts, verify. */
  phase(phase: Phase, ok = true): FixtureEvent[] {
    const roll = stepsOf(this.plan, phase).roll.some((g) => g.length > 0) ? [this.rolled(phase)] : [];
    return [this.written(phase), ...roll, this.verified(phase, ok)];
  }

  /** requested … verified(deploy, ok): what precedes the recorder's retirement timer. */
  untilRetirement(): FixtureEvent[] {
    const forward = this.plan.phases.map((p) => p.phase).filter((p) => p !== 'retire');
    return [this.requested(), this.planned(), ...forward.flatMap((p) => this.phase(p))];
  }

  /** written(retire) … completed: what follows `retiring`. */
  afterRetiring(): FixtureEvent[] {
    return [...this.phase('retire'), this.completed()];
  }
}

let entrySequence = 0;

/** The envelope a consumer hands a handler. */
export function asRotationEvent(event: FixtureEvent, stream: string, occurredAt: string = new Date().toISOString()): RotationEvent<unknown> {
  entrySequence += 1;
  return {
    stream,
    entryId: `${Date.now()}-${entrySequence}`,
    eventId: event.eventId,
    type: eventType(event.name),
    rotationId: event.rotationId,
    occurredAt,
    producer: 'fixture/test',
    kid: '0123456789abcdef',
    data: event.data,
    deliveries: 1,
  };
}

/** What the recorder would hand `applyEvents` for a fixture event: the event with its stream, signer and plan. */
export function asProjected(
  fixture: RotationFixture,
  event: FixtureEvent,
  options: { prefix?: string; occurredAt?: string; withPlan?: boolean; signer?: string } = {},
): ProjectedEvent {
  const names = event.data as { plan?: unknown };
  const signer = options.signer ?? (event.name === 'requested' || event.name === 'intent' ? `operator:${fixture.actor}` : event.name === 'completed' ? 'caracal' : 'bus');
  return {
    name: event.name,
    event: asRotationEvent(event, `${options.prefix ?? 'caracal.rotation'}.${event.name}`, options.occurredAt),
    signer,
    ...(names.plan !== undefined && options.withPlan !== false ? { plan: fixture.plan } : {}),
  };
}
