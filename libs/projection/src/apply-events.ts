import type { EventData, EventName, Plan, PlanRef, RotationEvent } from '@caracal-rotation/contracts';
import { TERMINAL_STATES, type RotationState } from '@caracal-rotation/lifecycle';
import type pg from 'pg';
import { rollUpBatches } from './batch-rollup.js';
import { recordDrainMarks, type DrainMark } from './drains.js';
import { foldRotation, type FoldEvent } from './fold.js';
import { knownPlanHashes, plansById, storePlans, type StoredPlan } from './plans.js';
import type { RotationFacts } from './records.js';
import { requestRecord } from './request-record.js';
import { ROTATION_COLUMNS, factsOf, toRotationRecord, type RotationRow } from './rotation-row.js';
import { withoutNul } from './sanitize.js';
import { transaction, type Database } from './transaction.js';

/** One event to project, as the recorder hands it over. */
export interface ProjectedEvent {
  name: EventName;
  /** `data` must satisfy the contract schema of `name`, except for `requested`, which may be any JSON object. */
  event: RotationEvent<unknown>;
  /** Who signed it: `bus`, `caracal` or `operator:<name>`. */
  signer?: string;
  /** The plan `event.data.plan` names, as the recorder read it (hash checked). Without it the projection's copy is used, if any. */
  plan?: Plan;
  /** Drain marks taken for this event (the deploy's restarts completed), recorded in the same transaction. */
  drainMarks?: readonly DrainMark[];
}

/** A rotation whose state this batch changed. */
export interface StateChange {
  rotationId: string;
  material: string | null;
  from: RotationState | undefined;
  to: RotationState;
}

export interface BatchResult {
  /** Events recorded by this call; the others were already recorded and changed nothing. */
  recorded: ProjectedEvent[];
  duplicates: number;
  changes: StateChange[];
  /** The state of every rotation the batch's new events touched (rotations without a position have none). */
  states: Map<string, RotationState>;
}

const planRefOf = (e: ProjectedEvent): PlanRef | undefined => {
  const plan = (e.event.data as { plan?: unknown } | null)?.plan;
  return plan !== null && typeof plan === 'object' && typeof (plan as PlanRef).id === 'string' ? (plan as PlanRef) : undefined;
};

/** Safe to store: a request keeps only its known fields, and no text holds U+0000. */
function sanitized(e: ProjectedEvent): ProjectedEvent {
  const { stream, entryId, eventId, type, rotationId, occurredAt, producer, kid, deliveries } = e.event;
  const data = e.name === 'requested' ? requestRecord(e.event.data) : e.event.data;
  // Only the envelope's fields: a consumer's event may carry more (who signed it, with the key).
  const event = withoutNul({ stream, entryId, eventId, type, rotationId, occurredAt, producer, kid, deliveries, data });
  return { ...e, event, signer: e.signer === undefined ? undefined : withoutNul(e.signer) };
}

// Writers of one rotation take its lock, in one global order (by lock key), so
// replicas projecting events of the same rotations wait for each other instead
// of deadlocking, and each folds onto what the other committed.
const LOCK_ROTATIONS = `
SELECT pg_advisory_xact_lock(k) FROM (
  SELECT DISTINCT hashtextextended('caracal-rotation/rotation/' || coalesce(current_schema(), '') || '/' || id, 0) AS k
    FROM unnest($1::text[]) AS id ORDER BY k
) AS keys`;

async function insertEvents(client: pg.ClientBase, events: readonly ProjectedEvent[]): Promise<Set<string>> {
  const { rows } = await client.query<{ event_id: string }>(
    `INSERT INTO rotation_events (event_id, rotation_id, type, stream, entry_id, occurred_at, producer, kid, signer, data)
     SELECT e.event_id, e.rotation_id, e.type, e.stream, e.entry_id, e.occurred_at, e.producer, e.kid, e.signer, e.data::jsonb
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[])
            AS e(event_id, rotation_id, type, stream, entry_id, occurred_at, producer, kid, signer, data)
     ON CONFLICT (event_id) DO NOTHING
     RETURNING event_id`,
    [
      events.map((e) => e.event.eventId),
      events.map((e) => e.event.rotationId),
      events.map((e) => e.event.type),
      events.map((e) => e.event.stream),
      events.map((e) => e.event.entryId),
      events.map((e) => e.event.occurredAt),
      events.map((e) => e.event.producer),
      events.map((e) => e.event.kid),
      events.map((e) => e.signer ?? null),
      events.map((e) => JSON.stringify(e.event.data)),
    ],
  );
  return new Set(rows.map((r) => r.event_id));
}

/** The plan of each event: the one handed over, else the projection's copy when its hash matches. Stores the new ones. */
async function resolvePlans(client: pg.ClientBase, events: readonly ProjectedEvent[]): Promise<Map<ProjectedEvent, Plan>> {
  const refs = new Map<string, PlanRef>();
  for (const e of events) {
    const ref = planRefOf(e);
    if (ref) refs.set(ref.id, ref);
  }
  const known = await knownPlanHashes(client, [...refs.keys()]);
  const handed = new Map<string, StoredPlan>();
  for (const e of events) {
    const ref = planRefOf(e);
    if (ref && e.plan && !known.has(ref.id)) handed.set(ref.id, { ref, plan: e.plan });
  }
  await storePlans(client, [...handed.values()]);
  const missing = events.filter((e) => !e.plan && planRefOf(e)).map((e) => planRefOf(e)!.id);
  const stored = await plansById(client, missing);

  const plans = new Map<ProjectedEvent, Plan>();
  for (const e of events) {
    const ref = planRefOf(e);
    const copy = ref ? stored.get(ref.id) : undefined;
    const plan = e.plan ?? (copy && copy.ref.hash === ref!.hash ? copy.plan : undefined);
    if (plan) plans.set(e, plan);
  }
  return plans;
}

async function knownRotations(client: pg.ClientBase, ids: readonly string[]): Promise<Map<string, RotationFacts>> {
  const { rows } = await client.query<RotationRow>(`SELECT ${ROTATION_COLUMNS} FROM rotations r WHERE r.rotation_id = ANY ($1::uuid[])`, [ids]);
  return new Map(rows.map((r) => [r.rotation_id, factsOf(toRotationRecord(r))]));
}

/** One statement for every rotation the batch moved or filled in. */
async function upsertRotations(client: pg.ClientBase, rows: readonly RotationFacts[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <K extends keyof RotationFacts>(k: K) => rows.map((r) => r[k]);
  await client.query(
    `INSERT INTO rotations (rotation_id, batch_id, material, zone_id, role, state, progress, phase, actor, reason, ticket, emergency, dry_run,
                           batch_parent, requested_at, completed_at, new_kid, previous_kid, secret_location, retire_after, retired_at, failure,
                           diagnosis, rolled_back, plan_id)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[],
                          $11::text[], $12::bool[], $13::bool[], $14::bool[], $15::timestamptz[], $16::timestamptz[], $17::text[], $18::text[],
                          $19::text[], $20::timestamptz[], $21::timestamptz[], $22::text[], $23::text[], $24::bool[], $25::uuid[])
     ON CONFLICT (rotation_id) DO UPDATE SET
       batch_id = EXCLUDED.batch_id, material = EXCLUDED.material, zone_id = EXCLUDED.zone_id, role = EXCLUDED.role,
       state = EXCLUDED.state, progress = EXCLUDED.progress, phase = EXCLUDED.phase, actor = EXCLUDED.actor, reason = EXCLUDED.reason,
       ticket = EXCLUDED.ticket, emergency = EXCLUDED.emergency, dry_run = EXCLUDED.dry_run, batch_parent = EXCLUDED.batch_parent,
       requested_at = EXCLUDED.requested_at, completed_at = EXCLUDED.completed_at, new_kid = EXCLUDED.new_kid,
       previous_kid = EXCLUDED.previous_kid, secret_location = EXCLUDED.secret_location, retire_after = EXCLUDED.retire_after,
       retired_at = EXCLUDED.retired_at, failure = EXCLUDED.failure, diagnosis = EXCLUDED.diagnosis, rolled_back = EXCLUDED.rolled_back,
       plan_id = EXCLUDED.plan_id, updated_at = now()`,
    [
      col('rotationId'),
      col('batchId'),
      col('material'),
      col('zoneId'),
      col('role'),
      col('state'),
      col('progress'),
      col('phase'),
      col('actor'),
      col('reason'),
      col('ticket'),
      col('emergency'),
      col('dryRun'),
      col('batchParent'),
      col('requestedAt'),
      col('completedAt'),
      col('newKid'),
      col('previousKid'),
      col('secretLocation'),
      col('retireAfter'),
      col('retiredAt'),
      col('failure'),
      col('diagnosis'),
      col('rolledBack'),
      col('planId'),
    ],
  );
}

async function insertChecks(client: pg.ClientBase, verified: readonly ProjectedEvent[]): Promise<void> {
  const rows = verified.flatMap((e) => {
    const data = e.event.data as EventData['verified'];
    return data.checks.map((c) => ({ eventId: e.event.eventId, rotationId: e.event.rotationId, phase: data.phase, ...c }));
  });
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO rotation_checks (event_id, rotation_id, phase, name, ok, detail, duration_ms)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::float8[])
     ON CONFLICT (event_id, name) DO NOTHING`,
    [
      rows.map((r) => r.eventId),
      rows.map((r) => r.rotationId),
      rows.map((r) => r.phase),
      rows.map((r) => r.name),
      rows.map((r) => r.ok),
      rows.map((r) => r.detail),
      rows.map((r) => r.duration_ms),
    ],
  );
}

async function insertMarks(client: pg.ClientBase, marked: readonly ProjectedEvent[]): Promise<void> {
  const marks = marked.flatMap((e) => e.drainMarks!.map((m) => ({ ...m, rotationId: e.event.rotationId })));
  await recordDrainMarks(
    client,
    marked.map((e) => e.event.rotationId),
    marks,
  );
}

/**
 * Projects a batch of events in one transaction with set-based statements
 * (docs/architecture.md §9): the events are recorded idempotently on
 * `event_id` (an event already recorded changes nothing), plans are stored
 * once, each touched rotation is folded (libs/lifecycle decides its state)
 * and written with one upsert, checks and drain marks are inserted in bulk.
 * A batch may hold several events of one rotation, in any order.
 */
export async function applyEvents(db: Database, batch: readonly ProjectedEvent[]): Promise<BatchResult> {
  const unique = [...new Map(batch.map((e) => [e.event.eventId, e])).values()].map(sanitized);
  const empty: BatchResult = { recorded: [], duplicates: batch.length, changes: [], states: new Map() };
  if (unique.length === 0) return empty;
  return transaction(db, async (client) => {
    await client.query(LOCK_ROTATIONS, [[...new Set(unique.map((e) => e.event.rotationId))]]);
    const inserted = await insertEvents(client, unique);
    const recorded = unique.filter((e) => inserted.has(e.event.eventId));
    if (recorded.length === 0) return empty;

    const plans = await resolvePlans(client, recorded);
    const byRotation = new Map<string, ProjectedEvent[]>();
    for (const e of recorded) byRotation.set(e.event.rotationId, [...(byRotation.get(e.event.rotationId) ?? []), e]);
    const known = await knownRotations(client, [...byRotation.keys()]);

    const folded: RotationFacts[] = [];
    const changes: StateChange[] = [];
    const states = new Map<string, RotationState>();
    for (const [rotationId, events] of byRotation) {
      const before = known.get(rotationId);
      const foldEvents: FoldEvent[] = events.map((e) => ({ name: e.name, occurredAt: e.event.occurredAt, entryId: e.event.entryId, data: e.event.data, plan: plans.get(e) }));
      const after = foldRotation(rotationId, before, foldEvents);
      if (!after) continue;
      folded.push(after);
      states.set(rotationId, after.state);
      if (after.state !== before?.state) changes.push({ rotationId, material: after.material, from: before?.state, to: after.state });
    }
    await upsertRotations(client, folded);
    // A zone that ended, or the batch's own planned, may end its batch.
    await rollUpBatches(client, [...new Set(folded.flatMap((r) => (r.batchParent ? [r.rotationId] : r.batchId && TERMINAL_STATES.has(r.state) ? [r.batchId] : [])))]);
    await insertChecks(client, recorded.filter((e) => e.name === 'verified'));
    await insertMarks(client, recorded.filter((e) => e.drainMarks !== undefined));
    return { recorded, duplicates: batch.length - recorded.length, changes, states };
  });
}

export interface ApplyResult {
  /** False when the event was already recorded: nothing changed. */
  applied: boolean;
  /** The rotation's state after the event (none when the rotation has no position, e.g. an intent naming an unknown rotation). */
  state?: RotationState;
}

/** Projects one event: `applyEvents` with a batch of one. */
export async function applyEvent(db: Database, event: ProjectedEvent): Promise<ApplyResult> {
  const result = await applyEvents(db, [event]);
  return { applied: result.recorded.length === 1, state: result.states.get(event.event.rotationId) };
}
