import { randomUUID } from 'node:crypto';
import {
  EVENT_DATA_SCHEMAS,
  eventType,
  newRotationId,
  planSchema,
  stageEventId,
  type EventName,
  type Phase,
  type Plan,
  type RotationEvent,
} from '@caracal-rotation/contracts';

/** An event as a stage would emit it: name, deterministic id and contract-valid data. */
export interface FixtureEvent {
  name: EventName;
  eventId: string;
  rotationId: string;
  data: unknown;
}

/** A valid plan for a dual-overlap file material; override what a test cares about. */
export function samplePlan(overrides: Partial<Plan> = {}): Plan {
  return planSchema.parse({
    material: 'AUDIT_HMAC_KEY',
    format: 'key32',
    overlap: 'dual',
    writer: 'file',
    secret: { env: 'AUDIT_HMAC_KEY', file: 'auditHmacKey', previous_file: 'auditHmacKeyPrevious' },
    derived: [],
    phases: ['stage', 'deploy', 'retire'],
    holders: [
      { service: 'api', roll_group: 0 },
      { service: 'audit', roll_group: 1 },
    ],
    checks: {
      stage: ['holders_ready'],
      deploy: ['holders_ready', 'audit_ingest', 'audit_new_key_accepted'],
      retire: ['holders_ready', 'audit_old_key_refused'],
      rollback: ['holders_ready'],
    },
    safety_window_ms: 0,
    drain: [],
    emergency: false,
    dry_run: false,
    warnings: [],
    requested: { actor: 'alice', reason: 'quarterly rotation', ticket: 'SEC-1', requested_at: new Date().toISOString() },
    ...overrides,
  });
}

export interface RotationFixtureOptions {
  rotationId?: string;
  plan?: Plan;
  batchId?: string;
  newKid?: string;
  previousKid?: string;
}

/** Builds the events of one rotation, in the shapes of libs/contracts, validated. */
export class RotationFixture {
  readonly rotationId: string;
  readonly plan: Plan;
  readonly batchId: string | undefined;
  readonly newKid: string;
  readonly previousKid: string;

  constructor(options: RotationFixtureOptions = {}) {
    this.rotationId = options.rotationId ?? newRotationId();
    this.plan = options.plan ?? samplePlan();
    this.batchId = options.batchId;
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

  private get carried() {
    return {
      ...this.subject,
      plan: this.plan,
      new: { kid: this.newKid, location: `/run/secrets/${this.plan.secret?.file ?? 'material'}` },
      previous: { kid: this.previousKid },
    };
  }

  requested(extra: Record<string, unknown> = {}): FixtureEvent {
    const { actor, reason, ticket } = this.plan.requested;
    return this.event('requested', randomUUID(), { material: this.plan.material, reason, actor, ticket, ...extra });
  }

  planned(): FixtureEvent {
    return this.event('planned', stageEventId(this.rotationId, 'planner', 'plan'), { ...this.subject, plan: this.plan });
  }

  written(phase: Phase): FixtureEvent {
    return this.event('written', stageEventId(this.rotationId, 'secret-writer', phase), { phase, ...this.carried, changed: true });
  }

  rolled(phase: Phase): FixtureEvent {
    const at = new Date().toISOString();
    const holders = this.plan.holders.map((h) => ({ service: h.service, restarted_at: at, ready_at: at, attempts: 1, ok: true }));
    return this.event('rolled', stageEventId(this.rotationId, 'roller', phase), { phase, ...this.carried, holders });
  }

  verified(phase: Phase, ok = true): FixtureEvent {
    const names = phase === 'stage' ? this.plan.checks.stage : this.plan.checks[phase];
    const checks = names.map((name, i) => ({ name, ok: ok || i > 0, detail: ok || i > 0 ? 'ok' : 'holder api not ready', duration_ms: 5 + i }));
    const diagnosis = ok ? {} : { diagnosis: 'api did not become ready: check the new key file is readable' };
    return this.event('verified', stageEventId(this.rotationId, 'verifier', phase), { phase, ...this.carried, ok, checks, ...diagnosis });
  }

  retiring(windowEndedAt = new Date().toISOString()): FixtureEvent {
    return this.event('retiring', stageEventId(this.rotationId, 'recorder', 'retire'), { ...this.carried, drain: [], window_ended_at: windowEndedAt });
  }

  completed(completedAt = new Date().toISOString()): FixtureEvent {
    return this.event('completed', stageEventId(this.rotationId, 'verifier', 'completed'), {
      ...this.subject,
      new_kid: this.newKid,
      previous_kid: this.previousKid,
      completed_at: completedAt,
    });
  }

  failed(phase: Phase, rolledBack: boolean): FixtureEvent {
    return this.event('failed', stageEventId(this.rotationId, 'verifier', 'failed'), {
      ...this.subject,
      stage: 'verifier',
      phase,
      error: 'deploy verification failed',
      rolled_back: rolledBack,
      diagnosis: 'api did not become ready: check the new key file is readable',
    });
  }

  /** requested … verified(deploy, ok): what precedes the recorder's retirement timer. */
  untilRetirement(): FixtureEvent[] {
    const staged = this.plan.phases.includes('stage') ? [this.written('stage'), this.rolled('stage'), this.verified('stage')] : [];
    return [this.requested(), this.planned(), ...staged, this.written('deploy'), this.rolled('deploy'), this.verified('deploy')];
  }

  /** written(retire) … completed: what follows `retiring`. */
  afterRetiring(): FixtureEvent[] {
    return [this.written('retire'), this.rolled('retire'), this.verified('retire'), this.completed()];
  }

  /** A deploy verification fails and the rollback restores the old material. */
  rolledBack(): FixtureEvent[] {
    return [
      this.requested(),
      this.planned(),
      this.written('deploy'),
      this.rolled('deploy'),
      this.verified('deploy', false),
      this.written('rollback'),
      this.rolled('rollback'),
      this.verified('rollback'),
      this.failed('deploy', true),
    ];
  }
}

let entrySequence = 0;

/** The envelope a consumer would hand a handler, for calling the projection directly. */
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
