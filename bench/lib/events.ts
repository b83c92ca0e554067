import { randomBytes } from 'node:crypto';
import {
  EVENT_DATA_SCHEMAS,
  childRotationId,
  newRotationId,
  rotationStreams,
  sandboxCatalog,
  stageEventId,
  type Catalog,
  type CheckResult,
  type EventName,
  type Phase,
  type Plan,
  type RotationStreams,
} from '@caracal-rotation/contracts';
import { buildPlan, validateRequest } from '@caracal-rotation/planning';

/**
 * Contract-valid events, built the way the stages build them: plans come from
 * the planner's own validateRequest + buildPlan over the sandbox catalog, and
 * every payload is parsed with its contract schema before use.
 */
export interface GeneratedEvent {
  name: EventName;
  stream: string;
  eventId: string;
  rotationId: string;
  producer: string;
  data: unknown;
  /** Drain marks the recorder would take with this event (the deploy `rolled`). */
  drainMarks?: { stream: string; group: string; mark: string }[];
}

const kid = (): string => randomBytes(8).toString('hex');
const CATALOG: Catalog = sandboxCatalog(0);
const REQUESTED_AT = new Date().toISOString();

export function planFor(raw: Record<string, unknown>, zoneId: string | undefined, streamPrefix: string): Plan {
  const verdict = validateRequest(raw, CATALOG);
  if (!verdict.ok) throw new Error(`bench request refused: ${verdict.message}`);
  return buildPlan(verdict.request, zoneId, { requestedAt: REQUESTED_AT, streamPrefix, caracalNamespace: '' });
}

const parse = (name: EventName, data: unknown): unknown => EVENT_DATA_SCHEMAS[name].parse(data);

function check(name: string, ok = true): CheckResult {
  const details: Record<string, string> = {
    holders_ready: 'api, sts, gateway, audit, coordinator, console answered /ready 200 (fleet verified 12 ms ago for another rotation)',
    audit_ingest: 'signed audit event 01HZX… ingested by audit in 38 ms, not dead-lettered',
    revocation_propagation: 'canary revocation seen by sts and gateway within 41 ms',
    gateway_exchange: 'gateway → sts exchange answered 200 with a mandate',
    jwks_new_kid: 'JWKS of zone-0001: 200, kids [9f0c2b7e1a3d4c5b, 0a1b2c3d4e5f6a7b], expected active 9f0c2b7e1a3d4c5b; cache-control public, max-age=300',
    jwks_old_mandate_verifies: 'mandate signed by 0a1b2c3d4e5f6a7b: verifies through the JWKS during the overlap',
    jwks_old_mandate_refused: 'mandate signed by 0a1b2c3d4e5f6a7b after retirement: refused (unknown_kid)',
  };
  return { name, ok, detail: details[name] ?? `${name}: ${ok ? 'passed' : 'failed'} against the sandbox fleet`, duration_ms: Math.round(Math.random() * 40) };
}

/** The drain marks the recorder takes for a zone-key rotation: every group of every rotation stream (drain-marks.ts). */
function drainMarksFor(streams: RotationStreams): { stream: string; group: string; mark: string }[] {
  const groups: Record<string, string[]> = {
    requested: ['planner', 'recorder'],
    queued: ['recorder'],
    planned: ['recorder', 'secret-writer'],
    rejected: ['recorder'],
    written: ['recorder', 'roller'],
    rolled: ['recorder', 'verifier'],
    verified: ['recorder', 'secret-writer'],
    retiring: ['recorder', 'secret-writer'],
    completed: ['planner', 'recorder'],
    failed: ['planner', 'recorder'],
  };
  const mark = `${Date.now()}-0`;
  return Object.entries(groups).flatMap(([name, gs]) => gs.map((group) => ({ stream: streams[name as EventName], group, mark })));
}

export type RotationKind = 'zone' | 'file' | 'failed-file';

/**
 * Every event one rotation produces, in pipeline order:
 * - `zone`: a child of a ZONE_SIGNING_KEY batch (planned, written/rolled/verified deploy, retiring, written/rolled/verified retire, completed: 9 events);
 * - `file`: an AUDIT_HMAC_KEY rotation with a stage phase and five holders (requested … completed: 14 events);
 * - `failed-file`: a deploy verification that fails and is rolled back (requested … failed: 12 events).
 */
export function rotationEvents(kind: RotationKind, streams: RotationStreams, batchId: string, index: number): GeneratedEvent[] {
  const zone = `zone-${String(index).padStart(5, '0')}`;
  const rotationId = kind === 'zone' ? childRotationId(batchId, zone) : newRotationId();
  const producer = (stage: string) => `${stage}/bench-host`;
  const out: GeneratedEvent[] = [];
  const emit = (name: EventName, stage: string, phase: string, data: unknown, extra: Partial<GeneratedEvent> = {}) =>
    out.push({ name, stream: streams[name], eventId: stageEventId(rotationId, stage, phase), rotationId, producer: producer(stage), data: parse(name, data), ...extra });

  const raw =
    kind === 'zone'
      ? { material: 'ZONE_SIGNING_KEY', zone_id: zone, reason: 'quarterly rotation', actor: 'bench@local', ticket: 'SEC-1234' }
      : { material: 'AUDIT_HMAC_KEY', reason: 'quarterly rotation', actor: 'bench@local', ticket: 'SEC-1234' };
  const plan = planFor(raw, kind === 'zone' ? zone : undefined, streams.prefix);
  const subject = { material: plan.material, zone_id: plan.zone_id, batch_id: kind === 'zone' ? batchId : undefined };
  const location = kind === 'zone' ? `http://127.0.0.1:7101/.well-known/jwks.json?zone_id=${zone}` : '/var/lib/caracal/secrets/auditHmacKey';
  const newRef = { kid: kid(), location };
  const previous = { kid: kid() };
  const holders = plan.holders.map((h) => ({
    service: h.service,
    restarted_at: new Date().toISOString(),
    ready_at: new Date().toISOString(),
    attempts: 1,
    ok: true,
    proof: { before: `pid:${1000 + index}`, after: `pid:${2000 + index}` },
  }));

  if (kind !== 'zone') {
    out.push({ name: 'requested', stream: streams.requested, eventId: newRotationId(), rotationId, producer: 'caracal-rotate/bench-host', data: parse('requested', raw) });
  }
  emit('planned', 'planner', 'plan', { ...subject, plan });
  const carried = { ...subject, plan, new: newRef, previous };
  const phase = (p: Phase, ok = true) => {
    emit('written', 'secret-writer', p, { phase: p, ...carried, changed: true });
    emit('rolled', 'roller', p, { phase: p, ...carried, holders }, p === 'deploy' ? { drainMarks: drainMarksFor(streams) } : {});
    const names = p === 'rollback' ? plan.checks.rollback : p === 'stage' ? plan.checks.stage : plan.checks[p];
    const checks = names.map((n, i) => check(n, ok || i > 0));
    emit('verified', 'verifier', p, { phase: p, ...carried, ok, checks, diagnosis: ok ? undefined : 'audit ingestion refused the new key: holders still on the old value' });
  };
  if (kind === 'failed-file') {
    phase('stage');
    phase('deploy', false);
    phase('rollback');
    emit('failed', 'verifier', 'rollback-failed', { ...subject, stage: 'verifier', phase: 'rollback', error: 'deploy verification failed; the old material was restored and verified', rolled_back: true });
    return out;
  }
  for (const p of plan.phases) {
    if (p === 'retire') {
      emit('retiring', 'recorder', 'retire', { ...carried, drain: drainMarksFor(streams).map((m) => ({ ...m, pending: 0, lag: 0 })), window_ended_at: new Date().toISOString() });
    }
    phase(p);
  }
  emit('completed', 'verifier', 'completed', { ...subject, new_kid: newRef.kid, previous_kid: previous.kid, completed_at: new Date().toISOString() });
  return out;
}

/**
 * Events of many rotations, interleaved the way the recorder meets them: every
 * rotation's first event, then every rotation's second, … (a batch moves through
 * the stages together). Mix: 80 % zone keys, 15 % file material, 5 % rolled back.
 */
export function rotationMix(rotations: number, prefix: string): GeneratedEvent[] {
  const streams = rotationStreams(prefix);
  const batchId = newRotationId();
  const perRotation: GeneratedEvent[][] = [];
  for (let i = 0; i < rotations; i++) {
    const r = i % 20;
    perRotation.push(rotationEvents(r === 0 ? 'failed-file' : r <= 3 ? 'file' : 'zone', streams, batchId, i));
  }
  const out: GeneratedEvent[] = [];
  for (let step = 0; perRotation.some((evs) => evs.length > step); step++) {
    for (const evs of perRotation) if (evs[step]) out.push(evs[step]!);
  }
  return out;
}

/** A deploy `written` of one zone of a batch: the input of the bus-hop stage. */
export function writtenZoneEvent(prefix: string, batchId: string, index: number) {
  const zone = `zone-${String(index).padStart(5, '0')}`;
  const rotationId = childRotationId(batchId, zone);
  const plan = planFor({ material: 'ZONE_SIGNING_KEY', zone_id: zone, reason: 'quarterly rotation', actor: 'bench@local' }, zone, prefix);
  const data = parse('written', {
    phase: 'deploy',
    material: plan.material,
    zone_id: zone,
    batch_id: batchId,
    plan,
    new: { kid: kid(), location: `http://127.0.0.1:7101/.well-known/jwks.json?zone_id=${zone}` },
    previous: { kid: kid() },
    changed: true,
  });
  return { rotationId, eventId: stageEventId(rotationId, 'secret-writer', 'deploy'), data };
}
