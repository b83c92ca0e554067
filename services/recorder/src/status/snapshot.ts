import type { Catalog } from '@caracal-rotation/contracts';
import { TERMINAL_STATES, materialStatus, type MaterialStatusRecord, type RotationState } from '@caracal-rotation/projection';
import type pg from 'pg';

/**
 * What the status page shows (`GET /status` renders it, `GET /status.json`
 * returns it as is). Read from the Postgres projection alone, in one
 * read-only transaction: never Redis, never a secret (the projection holds key
 * ids and file locations only).
 */
export interface StatusSnapshot {
  generated_at: string;
  /** Per material, zone and role; per material at most MATERIAL_ROWS_LIMIT rows (in flight, overdue and oldest first). */
  materials: MaterialView[];
  /** Rows left out of `materials`, per material (thousands of zones of a zone-scoped material). */
  materials_omitted: Record<string, number>;
  in_flight: RotationView[];
  /** The last rotations that ended (terminal, or a dry run), newest first. */
  history: RotationView[];
  /** The last failed or rejected rotations, newest first, with their diagnosis and failed checks. */
  failures: FailureView[];
}

export interface MaterialView {
  material: string;
  zone_id: string | null;
  role: string | null;
  /** Key id of the current material: the latest completed rotation's new kid. */
  current_kid: string | null;
  current_rotation_id: string | null;
  current_since: string | null;
  age_seconds: number | null;
  /** The catalog's rotation policy (`max_age_ms`), in seconds. */
  max_age_seconds: number | null;
  /** When the policy asks for the next rotation. */
  rotation_due_at: string | null;
  overdue: boolean;
  latest_rotation_id: string | null;
  latest_state: RotationState | null;
  in_flight: boolean;
  /** No completed rotation of it in the projection: its age is unknown and no policy applies. */
  never_rotated: boolean;
}

export type StepStatus = 'done' | 'failed' | 'current' | 'pending';

export interface TimelineStep {
  /** `requested`, `planned`, `written:deploy`, …, `completed`. */
  key: string;
  label: string;
  phase: string | null;
  status: StepStatus;
  /** When the step's event occurred (done and failed steps). */
  at: string | null;
  /** Done: time since the previous step. Current: time waited so far. */
  seconds: number | null;
  producer: string | null;
  /** What the current step waits for, in words. */
  note: string | null;
  /** When the current step is due (the end of the safety window), if known. */
  due_at: string | null;
}

export interface RotationView {
  rotation_id: string;
  batch_id: string | null;
  material: string | null;
  zone_id: string | null;
  role: string | null;
  state: RotationState;
  phase: string | null;
  actor: string | null;
  reason: string | null;
  ticket: string | null;
  emergency: boolean;
  dry_run: boolean;
  requested_at: string | null;
  ended_at: string | null;
  /** From the request to the end (or to now, in flight). */
  duration_seconds: number | null;
  retire_after: string | null;
  new_kid: string | null;
  previous_kid: string | null;
  failure: string | null;
  diagnosis: string | null;
  rolled_back: boolean;
  timeline: TimelineStep[];
}

export interface FailureView extends RotationView {
  failed_checks: { phase: string; name: string; detail: string }[];
}

export const MATERIAL_ROWS_LIMIT = 50;
export const HISTORY_LIMIT = 20;
export const FAILURE_LIMIT = 20;
export const IN_FLIGHT_LIMIT = 100;

interface RotationRow {
  rotation_id: string;
  batch_id: string | null;
  material: string | null;
  zone_id: string | null;
  role: string | null;
  state: RotationState;
  phase: string | null;
  actor: string | null;
  reason: string | null;
  ticket: string | null;
  emergency: boolean;
  dry_run: boolean;
  requested_at: Date | null;
  completed_at: Date | null;
  retire_after: Date | null;
  new_kid: string | null;
  previous_kid: string | null;
  failure: string | null;
  diagnosis: string | null;
  rolled_back: boolean;
  phases: unknown;
  created_at: Date;
  updated_at: Date;
}

interface EventRow {
  rotation_id: string;
  type: string;
  phase: string | null;
  ok: boolean | null;
  occurred_at: Date;
  producer: string;
}

const COLUMNS = `r.rotation_id, r.batch_id, r.material, r.zone_id, r.role, r.state, r.phase, r.actor, r.reason, r.ticket, r.emergency,
  r.dry_run, r.requested_at, r.completed_at, r.retire_after, r.new_kid, r.previous_kid, r.failure, r.diagnosis, r.rolled_back,
  r.plan -> 'phases' AS phases, r.created_at, r.updated_at`;
/** The parent row of a fanned-out batch is not a rotation of its own: its zones are. */
const NOT_A_BATCH_PARENT = 'NOT EXISTS (SELECT 1 FROM rotations child WHERE child.batch_id = r.rotation_id)';

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;
const secondsBetween = (from: Date | null, to: Date | null): number | null => (from && to ? Math.max(0, (to.getTime() - from.getTime()) / 1000) : null);

const STEP_NAMES: Record<string, string> = { retiring: 'retiring' };
function stepKey(type: string, phase: string | null): string {
  const name = type.startsWith('rotation.') ? type.slice('rotation.'.length) : type;
  return (name === 'written' || name === 'rolled' || name === 'verified') && phase ? `${name}:${phase}` : (STEP_NAMES[name] ?? name);
}
const stepLabel = (key: string): string => key.replace(':', ' · ');
const stepPhase = (key: string): string | null => (key.includes(':') ? key.split(':')[1]! : null);
const phaseSteps = (phase: string): string[] => [`written:${phase}`, `rolled:${phase}`, `verified:${phase}`];

/** The steps a rotation still has ahead of it, in order, as its plan (if known yet) says. */
function expectedPath(row: RotationRow, events: EventRow[]): string[] {
  const rollingBack = row.state === 'rolling_back' || events.some((e) => e.phase === 'rollback' || (e.type === 'rotation.verified' && e.ok === false));
  if (rollingBack) return [...phaseSteps('rollback'), 'failed'];
  const phases = Array.isArray(row.phases) ? row.phases.filter((p): p is string => typeof p === 'string') : undefined;
  if (!phases) return ['requested', 'planned', 'completed'];
  return [
    'requested',
    'planned',
    ...phases.filter((p) => p !== 'retire' && p !== 'rollback').flatMap(phaseSteps),
    ...(phases.includes('retire') ? ['retiring', ...phaseSteps('retire')] : []),
    'completed',
  ];
}

/** The order of the steps of any rotation, which breaks ties between events of the same millisecond. */
const STEP_ORDER = [
  'requested',
  'queued',
  'planned',
  ...['stage', 'deploy', 'rollback'].flatMap(phaseSteps),
  'retiring',
  ...phaseSteps('retire'),
  'completed',
  'failed',
  'rejected',
];
const stepRank = (key: string): number => {
  const i = STEP_ORDER.indexOf(key);
  return i < 0 ? STEP_ORDER.length : i;
};

/**
 * The stage timeline of one rotation: every recorded event as a done step
 * (with its time and the time since the previous one), then, while the
 * rotation is in flight, the steps its plan still expects, the first of them
 * current (with the time waited so far).
 */
export function timelineOf(row: RotationRow, events: EventRow[], now: Date): TimelineStep[] {
  const steps: TimelineStep[] = [];
  const seen = new Set<string>();
  let previous: Date | null = null;
  const ordered = [...events].sort(
    (a, b) => a.occurred_at.getTime() - b.occurred_at.getTime() || stepRank(stepKey(a.type, a.phase)) - stepRank(stepKey(b.type, b.phase)),
  );
  for (const e of ordered) {
    const key = stepKey(e.type, e.phase);
    if (seen.has(key)) continue;
    seen.add(key);
    const failed = key === 'failed' || key === 'rejected' || (e.type === 'rotation.verified' && e.ok === false);
    steps.push({
      key,
      label: stepLabel(key),
      phase: e.phase ?? stepPhase(key),
      status: failed ? 'failed' : 'done',
      at: e.occurred_at.toISOString(),
      seconds: secondsBetween(previous, e.occurred_at),
      producer: e.producer,
      note: null,
      due_at: null,
    });
    previous = e.occurred_at;
  }
  if (TERMINAL_STATES.includes(row.state) || row.dry_run) return steps;
  let first = true;
  for (const key of expectedPath(row, events)) {
    if (seen.has(key)) continue;
    let note: string | null = null;
    let due: Date | null = null;
    if (first && key === 'retiring' && row.retire_after) {
      if (row.retire_after > now) {
        note = 'safety window ends';
        due = row.retire_after;
      } else {
        note = 'window passed; waiting for the drain gate';
      }
    }
    if (first && row.state === 'queued') note = 'queued behind another class of material';
    steps.push({
      key,
      label: stepLabel(key),
      phase: stepPhase(key),
      status: first ? 'current' : 'pending',
      at: null,
      seconds: first ? secondsBetween(previous, now) : null,
      producer: null,
      note,
      due_at: iso(due),
    });
    first = false;
  }
  return steps;
}

function rotationView(row: RotationRow, events: EventRow[], now: Date): RotationView {
  const ended = TERMINAL_STATES.includes(row.state) ? (row.completed_at ?? row.updated_at) : null;
  return {
    rotation_id: row.rotation_id,
    batch_id: row.batch_id,
    material: row.material,
    zone_id: row.zone_id,
    role: row.role,
    state: row.state,
    phase: row.phase,
    actor: row.actor,
    reason: row.reason,
    ticket: row.ticket,
    emergency: row.emergency,
    dry_run: row.dry_run,
    requested_at: iso(row.requested_at),
    ended_at: iso(ended),
    duration_seconds: secondsBetween(row.requested_at ?? row.created_at, ended ?? (row.dry_run ? row.updated_at : now)),
    retire_after: iso(row.retire_after),
    new_kid: row.new_kid,
    previous_kid: row.previous_kid,
    failure: row.failure,
    diagnosis: row.diagnosis,
    rolled_back: row.rolled_back,
    timeline: timelineOf(row, events, now),
  };
}

/** In flight first, then overdue, then the oldest material; never-rotated rows last. */
const byAttention = (a: MaterialView, b: MaterialView): number =>
  Number(b.in_flight) - Number(a.in_flight) || Number(b.overdue) - Number(a.overdue) || (b.age_seconds ?? -1) - (a.age_seconds ?? -1);

/** Keeps at most `limit` rows per material, those that most need attention, in their original order. */
export function capPerMaterial(views: MaterialView[], limit: number): { kept: MaterialView[]; omitted: Record<string, number> } {
  const omitted: Record<string, number> = {};
  const keep = new Set<MaterialView>();
  for (const material of new Set(views.map((v) => v.material))) {
    const rows = views.filter((v) => v.material === material);
    for (const v of [...rows].sort(byAttention).slice(0, limit)) keep.add(v);
    if (rows.length > limit) omitted[material] = rows.length - limit;
  }
  return { kept: views.filter((v) => keep.has(v)), omitted };
}

function materialViews(status: MaterialStatusRecord[], catalog: Catalog, now: Date): MaterialView[] {
  const views: MaterialView[] = [];
  const listed = new Set<string>();
  const view = (s: MaterialStatusRecord | undefined, material: string, maxAgeMs: number | undefined): MaterialView => {
    const since = s?.currentSince ? new Date(s.currentSince) : null;
    const due = since && maxAgeMs !== undefined ? new Date(since.getTime() + maxAgeMs) : null;
    return {
      material,
      zone_id: s?.zoneId ?? null,
      role: s?.role ?? null,
      current_kid: s?.currentKid ?? null,
      current_rotation_id: s?.currentRotationId ?? null,
      current_since: s?.currentSince ?? null,
      age_seconds: s?.materialAgeSeconds ?? null,
      max_age_seconds: maxAgeMs === undefined ? null : maxAgeMs / 1000,
      rotation_due_at: iso(due),
      overdue: due !== null && due <= now,
      latest_rotation_id: s?.latestRotationId ?? null,
      latest_state: s?.latestState ?? null,
      in_flight: s !== undefined && !TERMINAL_STATES.includes(s.latestState),
      never_rotated: s?.currentRotationId == null,
    };
  };
  // Catalog order, every material of the catalog listed even when never rotated here.
  for (const entry of catalog.materials) {
    listed.add(entry.material);
    const rows = status.filter((s) => s.material === entry.material);
    if (rows.length === 0) views.push(view(undefined, entry.material, entry.max_age_ms));
    for (const s of rows) views.push(view(s, entry.material, entry.max_age_ms));
  }
  for (const s of status) if (!listed.has(s.material)) views.push(view(s, s.material, undefined));
  return views;
}

async function eventsOf(client: pg.ClientBase, ids: string[]): Promise<Map<string, EventRow[]>> {
  const byRotation = new Map<string, EventRow[]>();
  if (ids.length === 0) return byRotation;
  const { rows } = await client.query<EventRow>(
    `SELECT rotation_id, type, data ->> 'phase' AS phase,
            CASE WHEN jsonb_typeof(data -> 'ok') = 'boolean' THEN (data ->> 'ok')::boolean END AS ok,
            occurred_at, producer
       FROM rotation_events WHERE rotation_id = ANY ($1::uuid[])
      ORDER BY rotation_id, occurred_at, recorded_at`,
    [ids],
  );
  for (const r of rows) {
    const list = byRotation.get(r.rotation_id) ?? [];
    list.push(r);
    byRotation.set(r.rotation_id, list);
  }
  return byRotation;
}

async function failedChecksOf(client: pg.ClientBase, ids: string[]): Promise<Map<string, FailureView['failed_checks']>> {
  const byRotation = new Map<string, FailureView['failed_checks']>();
  if (ids.length === 0) return byRotation;
  const { rows } = await client.query<{ rotation_id: string; phase: string; name: string; detail: string }>(
    `SELECT c.rotation_id, c.phase, c.name, c.detail
       FROM rotation_checks c JOIN rotation_events e USING (event_id)
      WHERE c.rotation_id = ANY ($1::uuid[]) AND NOT c.ok
      ORDER BY e.occurred_at, c.name`,
    [ids],
  );
  for (const r of rows) {
    const list = byRotation.get(r.rotation_id) ?? [];
    list.push({ phase: r.phase, name: r.name, detail: r.detail });
    byRotation.set(r.rotation_id, list);
  }
  return byRotation;
}

/** Reads the whole snapshot in one read-only, repeatable-read transaction (a consistent picture, and Postgres refuses any write). */
export async function readStatus(pool: pg.Pool, catalog: Catalog): Promise<StatusSnapshot> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const terminal = [...TERMINAL_STATES];
    const now = (await client.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    const status = await materialStatus(client);
    const inFlight = await client.query<RotationRow>(
      `SELECT ${COLUMNS} FROM rotations r
        WHERE r.state <> ALL ($1::text[]) AND NOT r.dry_run AND ${NOT_A_BATCH_PARENT}
        ORDER BY COALESCE(r.requested_at, r.created_at) DESC, r.rotation_id DESC LIMIT $2`,
      [terminal, IN_FLIGHT_LIMIT],
    );
    const history = await client.query<RotationRow>(
      `SELECT ${COLUMNS} FROM rotations r
        WHERE (r.state = ANY ($1::text[]) OR r.dry_run) AND ${NOT_A_BATCH_PARENT}
        ORDER BY COALESCE(r.completed_at, r.updated_at) DESC, r.rotation_id DESC LIMIT $2`,
      [terminal, HISTORY_LIMIT],
    );
    const failures = await client.query<RotationRow>(
      `SELECT ${COLUMNS} FROM rotations r
        WHERE r.state IN ('failed', 'rejected')
        ORDER BY r.updated_at DESC, r.rotation_id DESC LIMIT $1`,
      [FAILURE_LIMIT],
    );
    const ids = [...new Set([...inFlight.rows, ...history.rows, ...failures.rows].map((r) => r.rotation_id))];
    const events = await eventsOf(client, ids);
    const checks = await failedChecksOf(client, failures.rows.map((r) => r.rotation_id));
    await client.query('COMMIT');

    const viewOf = (r: RotationRow) => rotationView(r, events.get(r.rotation_id) ?? [], now);
    const materials = capPerMaterial(materialViews(status, catalog, now), MATERIAL_ROWS_LIMIT);
    return {
      generated_at: now.toISOString(),
      materials: materials.kept,
      materials_omitted: materials.omitted,
      in_flight: inFlight.rows.map(viewOf),
      history: history.rows.map(viewOf),
      failures: failures.rows.map((r) => ({ ...viewOf(r), failed_checks: checks.get(r.rotation_id) ?? [] })),
    };
  } catch (err) {
    // A connection whose ROLLBACK failed is destroyed rather than returned to the pool.
    broken = await client.query('ROLLBACK').then(
      () => undefined,
      (rollbackErr: unknown) => (rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr))),
    );
    throw err;
  } finally {
    client.release(broken);
  }
}
