import { randomBytes } from 'node:crypto';
import { planHash } from '@caracal-rotation/bus';
import {
  EVENT_DATA_SCHEMAS,
  childRotationId,
  holdersConfigSchema,
  newRotationId,
  rotationStreams,
  sandboxCatalog,
  stageEventId,
  type Catalog,
  type CheckResult,
  type EventName,
  type HoldersConfig,
  type Phase,
  type Plan,
  type PlanRef,
  type RotationStreams,
} from '@caracal-rotation/contracts';
import { expectedPath, rollbackPath, rollsIn, stepsOf, type PathStep } from '@caracal-rotation/lifecycle';
import { buildPlan, validateRequest } from '@caracal-rotation/planning';

/**
 * Contract-valid events, built the way the stages build them: plans come
 * from the planner's own validateRequest + buildPlan over the sandbox
 * catalog and a holders file shaped like the sandbox's, each rotation's
 * events follow the path libs/lifecycle expects for its plan, and every
 * payload is parsed with its contract schema before use.
 */
export interface GeneratedEvent {
  name: EventName;
  stream: string;
  eventId: string;
  rotationId: string;
  producer: string;
  /** Who signs it, as the projection records it: `bus`, `caracal` or `operator:<name>`. */
  signer: string;
  data: unknown;
  /** The plan the event's `plan` reference names (the recorder reads it from the PlanStore). */
  plan?: Plan;
  /** Drain marks the recorder takes with the event that completes the deploy's restarts. */
  drainMarks?: { stream: string; group: string; mark: string }[];
}

export const BENCH_OPERATOR = 'bench@local';
const kid = (): string => randomBytes(8).toString('hex');
const CATALOG: Catalog = sandboxCatalog(0);
const REQUESTED_AT = new Date().toISOString();

/** A deployment like the sandbox's: every Caracal service restarts through a Docker socket. */
const HOLDERS: HoldersConfig = holdersConfigSchema.parse({
  version: 2,
  services: Object.fromEntries(
    ['api', 'sts', 'gateway', 'audit', 'coordinator'].map((s, i) => [
      s,
      { url: `http://127.0.0.1:${7101 + i}`, restart: { adapter: 'docker', container: `caracal-${s}-1`, socket: '/tmp/bench-docker.sock', stop_timeout_s: 20 } },
    ]),
  ),
  zones: { admin_token_file: 'stsAdminToken' },
  postgres: { admin_url_file: 'databaseUrl' },
  redis: { admin_url_file: 'redisUrl' },
});

export interface PlannedRotation {
  plan: Plan;
  ref: PlanRef;
}

/** The plan the planner would store for this request, and the reference its events carry. */
export function planFor(raw: Record<string, unknown>, streamPrefix: string, planId: string): PlannedRotation {
  const verdict = validateRequest(raw, CATALOG);
  if (!verdict.ok) throw new Error(`bench request refused: ${verdict.message}`);
  const plan = buildPlan(verdict.request, { requestedAt: REQUESTED_AT, actor: BENCH_OPERATOR, streamPrefix, holders: HOLDERS });
  return { plan, ref: { id: planId, hash: planHash(JSON.stringify(plan)) } };
}

const parse = (name: EventName, data: unknown): unknown => EVENT_DATA_SCHEMAS[name].parse(data);

const CHECK_DETAILS: Record<string, string> = {
  holders_ready: 'api, sts, gateway, audit, coordinator answered /ready 200',
  jwks_new_kid: 'JWKS of the zone: 200, the new kid listed first; cache-control public, max-age=300',
  jwks_keys_valid: 'every key of the JWKS parses as a P-256 public JWK',
};
const check = (name: string, ok: boolean): CheckResult => ({
  name,
  ok,
  detail: CHECK_DETAILS[name] ?? `${name}: ${ok ? 'passed' : 'failed'} against the sandbox`,
  duration_ms: Math.round(Math.random() * 40),
});

/** The pairs of a drain set as the recorder marks them (patterns expanded to one stream and one group each). */
function drainMarksFor(plan: Plan): { stream: string; group: string; mark: string }[] {
  const mark = `${Date.now()}-0`;
  return plan.drain.map((p) => ({ stream: p.stream.replace(/\*$/, 'events'), group: p.group === '*' ? 'bench-consumers' : p.group, mark }));
}

export type RotationKind = 'zone' | 'file' | 'failed-file';

interface RotationContext {
  streams: RotationStreams;
  rotationId: string;
  planned: PlannedRotation;
  subject: { material: Plan['material']; zone_id?: string; batch_id?: string };
}

/** The events of each step of a path, as the stage that does it emits them. */
function stepEvents(ctx: RotationContext, steps: readonly PathStep[], verifyOk: (phase: Phase) => boolean): GeneratedEvent[] {
  const { streams, rotationId, planned, subject } = ctx;
  const { plan, ref } = planned;
  const carried = { ...subject, plan: ref, new: { kid: kid(), location: subject.zone_id ? `sts:zone/${subject.zone_id}` : '/var/lib/caracal/secrets/auditHmacKey' }, previous: { kid: kid() } };
  const out: GeneratedEvent[] = [];
  const emit = (name: EventName, stage: string, step: string, data: unknown, extra: Partial<GeneratedEvent> = {}) =>
    out.push({ name, stream: streams[name], eventId: stageEventId(rotationId, stage, step), rotationId, producer: `${stage}/bench-host`, signer: 'bus', data: parse(name, data), plan, ...extra });
  for (const step of steps) {
    const phase = step.phase!;
    const completesDeployRoll = phase === 'deploy' && (step.kind === 'roll' || (step.kind === 'write' && !rollsIn(plan, 'deploy')));
    const marks = completesDeployRoll ? { drainMarks: drainMarksFor(plan) } : {};
    switch (step.kind) {
      case 'write':
        emit('written', 'secret-writer', phase, { phase, ...carried, changed: stepsOf(plan, phase).write }, marks);
        break;
      case 'roll': {
        const holders = stepsOf(plan, phase).roll.flat().map((service, i) => ({
          service,
          ok: true,
          restarted_at: new Date().toISOString(),
          ready_at: new Date().toISOString(),
          attempts: 1,
          proof: { before: `started ${i}`, after: `started ${i + 1}`, detail: 'State.StartedAt moved past the write' },
        }));
        emit('rolled', 'roller', phase, { phase, ...carried, holders }, marks);
        break;
      }
      case 'verify': {
        const ok = verifyOk(phase);
        const checks = stepsOf(plan, phase).checks.map((n, i) => check(n, ok || i > 0));
        emit('verified', 'verifier', phase, { phase, ...subject, plan: ref, ok, checks, diagnosis: ok ? undefined : 'audit ingestion refused the new key: holders still on the old value' });
        break;
      }
      case 'wait':
        emit('retiring', 'recorder', 'retire', { ...subject, plan: ref, drain: drainMarksFor(plan).map((m) => ({ ...m, pending: 0, lag: 0 })), window_ended_at: new Date().toISOString() });
        break;
      case 'plan':
        break;
    }
  }
  return out;
}

/**
 * Every event one rotation produces, in pipeline order:
 * - `zone`: a child of a ZONE_SIGNING_KEY batch, on the batch's plan (planned, then its expected path, then completed);
 * - `file`: an AUDIT_HMAC_KEY rotation whose five holders restart (requested … completed);
 * - `failed-file`: the same with a failing deploy verification, rolled back (requested … failed).
 */
export function rotationEvents(kind: RotationKind, streams: RotationStreams, batch: { id: string; planned: PlannedRotation }, index: number): GeneratedEvent[] {
  const zone = `zone-${String(index).padStart(5, '0')}`;
  const rotationId = kind === 'zone' ? childRotationId(batch.id, zone) : newRotationId();
  const raw = { material: 'AUDIT_HMAC_KEY', reason: 'quarterly rotation', ticket: 'SEC-1234' };
  const planned = kind === 'zone' ? batch.planned : planFor(raw, streams.prefix, rotationId);
  const subject = kind === 'zone' ? { material: planned.plan.material, zone_id: zone, batch_id: batch.id } : { material: planned.plan.material };
  const ctx: RotationContext = { streams, rotationId, planned, subject };
  const out: GeneratedEvent[] = [];
  if (kind !== 'zone') {
    out.push({ name: 'requested', stream: streams.requested, eventId: newRotationId(), rotationId, producer: 'caracal-rotate/bench-host', signer: `operator:${BENCH_OPERATOR}`, data: parse('requested', raw) });
  }
  out.push({
    name: 'planned',
    stream: streams.planned,
    eventId: stageEventId(rotationId, 'planner', 'plan'),
    rotationId,
    producer: 'planner/bench-host',
    signer: 'bus',
    data: parse('planned', { ...subject, actor: BENCH_OPERATOR, plan: planned.ref, dry_run: false }),
    plan: planned.plan,
  });
  const path = expectedPath(planned.plan).filter((s) => s.kind !== 'plan');
  if (kind === 'failed-file') {
    const untilDeployVerified = path.slice(0, path.findIndex((s) => s.kind === 'verify' && s.phase === 'deploy') + 1);
    out.push(...stepEvents(ctx, untilDeployVerified, (phase) => phase !== 'deploy'));
    out.push(...stepEvents(ctx, rollbackPath(planned.plan), () => true));
    out.push({
      name: 'failed',
      stream: streams.failed,
      eventId: stageEventId(rotationId, 'verifier', 'rollback-failed'),
      rotationId,
      producer: 'verifier/bench-host',
      signer: 'bus',
      data: parse('failed', { ...subject, stage: 'verifier', phase: 'rollback', error: 'AUDIT_HMAC_KEY was rolled back and the rollback verified', rolled_back: true }),
    });
    return out;
  }
  const steps = stepEvents(ctx, path, () => true);
  out.push(...steps);
  const written = steps.find((e) => e.name === 'written') as { data: { new: { kid: string }; previous: { kid: string } } } | undefined;
  out.push({
    name: 'completed',
    stream: streams.completed,
    eventId: stageEventId(rotationId, 'verifier', 'completed'),
    rotationId,
    producer: 'verifier/bench-host',
    signer: 'caracal',
    data: parse('completed', { ...subject, new_kid: written?.data.new.kid ?? kid(), previous_kid: written?.data.previous.kid ?? null, completed_at: new Date().toISOString() }),
  });
  return out;
}

/** The batch a `zone_id: "*"` request becomes: its id and the one plan its children share. */
export function zoneBatch(prefix: string): { id: string; planned: PlannedRotation } {
  const id = newRotationId();
  return { id, planned: planFor({ material: 'ZONE_SIGNING_KEY', zone_id: '*', reason: 'quarterly rotation' }, prefix, id) };
}

/**
 * Events of many rotations, interleaved the way the recorder meets them: every
 * rotation's first event, then every rotation's second, … (a batch moves through
 * the stages together). Mix: 80 % zone keys of one batch (with the batch's own
 * request and planned), 15 % file material with holders, 5 % rolled back.
 */
export function rotationMix(rotations: number, prefix: string): GeneratedEvent[] {
  const streams = rotationStreams(prefix);
  const batch = zoneBatch(prefix);
  const perRotation: GeneratedEvent[][] = [];
  let zones = 0;
  for (let i = 0; i < rotations; i++) {
    const r = i % 20;
    const kind: RotationKind = r === 0 ? 'failed-file' : r <= 3 ? 'file' : 'zone';
    if (kind === 'zone') zones += 1;
    perRotation.push(rotationEvents(kind, streams, batch, i));
  }
  const parent: GeneratedEvent[] = [
    {
      name: 'requested',
      stream: streams.requested,
      eventId: newRotationId(),
      rotationId: batch.id,
      producer: 'caracal-rotate/bench-host',
      signer: `operator:${BENCH_OPERATOR}`,
      data: parse('requested', { material: 'ZONE_SIGNING_KEY', zone_id: '*', reason: 'quarterly rotation' }),
    },
    {
      name: 'planned',
      stream: streams.planned,
      eventId: stageEventId(batch.id, 'planner', 'plan'),
      rotationId: batch.id,
      producer: 'planner/bench-host',
      signer: 'bus',
      data: parse('planned', { material: 'ZONE_SIGNING_KEY', actor: BENCH_OPERATOR, plan: batch.planned.ref, dry_run: false, batch: { zones } }),
      plan: batch.planned.plan,
    },
  ];
  const out: GeneratedEvent[] = [...parent];
  for (let step = 0; perRotation.some((evs) => evs.length > step); step++) {
    for (const evs of perRotation) if (evs[step]) out.push(evs[step]!);
  }
  return out;
}

/** A deploy `written` of one zone of a batch, as the secret-writer emits it: the input of the bus-hop stage. */
export function writtenZoneEvent(batch: { id: string; planned: PlannedRotation }, index: number) {
  const zone = `zone-${String(index).padStart(5, '0')}`;
  const rotationId = childRotationId(batch.id, zone);
  const data = parse('written', {
    phase: 'deploy',
    material: 'ZONE_SIGNING_KEY',
    zone_id: zone,
    batch_id: batch.id,
    plan: batch.planned.ref,
    new: { kid: kid(), location: `sts:zone/${zone}` },
    previous: { kid: kid() },
    changed: true,
  });
  return { rotationId, eventId: stageEventId(rotationId, 'secret-writer', 'deploy'), data };
}
