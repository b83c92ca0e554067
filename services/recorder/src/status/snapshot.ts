import type { Catalog } from '@caracal-rotation/contracts';
import { isTerminal, type RotationState } from '@caracal-rotation/lifecycle';
import {
  eventsOfRotations,
  inFlightRotations,
  materialStatus,
  readConsistent,
  recentFailures,
  recentlyEnded,
  type InFlightRotation,
  type MaterialStatusRecord,
  type RotationEventRecord,
  type RotationRecord,
} from '@caracal-rotation/projection';
import type pg from 'pg';

/**
 * What the status page shows (`GET /status` renders it, `GET /status.json`
 * returns it as is). Read from the projection's read model alone, in one
 * read-only snapshot: never Redis, never a secret (the projection holds key
 * ids and locations only).
 */
export interface StatusSnapshot {
  generated_at: string;
  /** Per material, zone and role; per material at most MATERIAL_ROWS_LIMIT rows (in flight, overdue and oldest first). */
  materials: MaterialView[];
  /** Rows left out of `materials`, per material (thousands of zones of a zone-scoped material). */
  materials_omitted: Record<string, number>;
  /** Rotations in flight, each with the path libs/lifecycle draws for its plan and how far it got. */
  in_flight: RotationView[];
  /** The last rotations that ended (or were dry runs), newest first, with the steps they took. */
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
  /** `requested`, `planned`, `written:deploy`, `retiring`, …, `completed`. */
  key: string;
  label: string;
  phase: string | null;
  status: StepStatus;
  /** When the step's event occurred (done and failed steps). */
  at: string | null;
  /** Done: time since the previous step. Current: time waited so far. */
  seconds: number | null;
  /** The stage that does the step (in flight), or the producer of its event (history). */
  by: string | null;
  /** What the current step waits for, in words. */
  note: string | null;
  /** When the current step is due (the end of the rollback window), if known. */
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

const secondsBetween = (from: string | null, to: Date | string | null): number | null =>
  from && to ? Math.max(0, (new Date(to).getTime() - Date.parse(from)) / 1000) : null;
const nameOf = (type: string): string => type.replace(/^rotation\./, '');
const phaseOf = (e: RotationEventRecord): string | null => (e.data as { phase?: string } | null)?.phase ?? null;

function step(key: string, label: string, status: StepStatus, extra: Partial<TimelineStep> = {}): TimelineStep {
  return { key, label, phase: null, status, at: null, seconds: null, by: null, note: null, due_at: null, ...extra };
}

/** Whether a recorded event is a failure of its step. */
function failedStep(e: RotationEventRecord): boolean {
  const name = nameOf(e.type);
  const data = (e.data ?? {}) as { ok?: boolean; intent?: string };
  return name === 'failed' || name === 'abandoned' || (name === 'rejected' && !data.intent) || (name === 'verified' && data.ok === false);
}

/**
 * The timeline of a rotation in flight: its request (and queueing), then the
 * path libs/lifecycle draws for its plan with the steps done marked from its
 * events, then its completion. Without a plan yet, the planning is current.
 */
export function inFlightTimeline(f: InFlightRotation, now: Date): TimelineStep[] {
  const r = f.rotation;
  const steps: TimelineStep[] = [];
  let previous: string | null = null;
  const done = (key: string, label: string, at: string, extra: Partial<TimelineStep> = {}) => {
    steps.push(step(key, label, 'done', { at, seconds: secondsBetween(previous, at), ...extra }));
    previous = at;
  };
  for (const name of ['requested', 'queued']) {
    const e = f.events.find((x) => nameOf(x.type) === name);
    if (e) done(name, name, e.occurredAt, { by: e.producer });
  }
  const path = f.path.length > 0 ? f.path : [{ key: 'planned', label: 'plan', status: 'current' as const, at: null, phase: undefined, stage: 'planner' as const }];
  for (const s of path) {
    if (s.status === 'done' || s.status === 'failed') {
      steps.push(step(s.key, s.label, s.status, { phase: s.phase ?? null, at: s.at, seconds: secondsBetween(previous, s.at), by: s.stage }));
      previous = s.at ?? previous;
      continue;
    }
    const current = s.status === 'current';
    const extra: Partial<TimelineStep> = { phase: s.phase ?? null, by: s.stage, seconds: current ? secondsBetween(previous ?? r.requestedAt, now) : null };
    if (current && s.key === 'retiring' && r.retireAfter) {
      if (Date.parse(r.retireAfter) > now.getTime()) Object.assign(extra, { note: 'safety window ends', due_at: r.retireAfter });
      else extra.note = 'window passed; waiting for the drain gate';
    }
    if (current && r.state === 'queued') extra.note = 'queued behind another class of material';
    steps.push(step(s.key, s.label, s.status, extra));
  }
  steps.push(step('completed', 'completed', 'pending'));
  return steps;
}

/** The timeline of a rotation that ended: every step it took, in order, once each. */
export function recordedTimeline(events: readonly RotationEventRecord[]): TimelineStep[] {
  const steps: TimelineStep[] = [];
  const seen = new Set<string>();
  let previous: string | null = null;
  for (const e of events) {
    const name = nameOf(e.type);
    if (name === 'intent' || (name === 'rejected' && (e.data as { intent?: string } | null)?.intent)) continue;
    const phase = phaseOf(e);
    const key = phase && (name === 'written' || name === 'rolled' || name === 'verified') ? `${name}:${phase}` : name;
    if (seen.has(key)) continue;
    seen.add(key);
    steps.push(step(key, key.replace(':', ' · '), failedStep(e) ? 'failed' : 'done', { phase, at: e.occurredAt, seconds: secondsBetween(previous, e.occurredAt), by: e.producer }));
    previous = e.occurredAt;
  }
  return steps;
}

function rotationView(r: RotationRecord, timeline: TimelineStep[], now: Date): RotationView {
  const ended = isTerminal(r.state) ? (r.completedAt ?? r.updatedAt) : null;
  return {
    rotation_id: r.rotationId,
    batch_id: r.batchId,
    material: r.material,
    zone_id: r.zoneId,
    role: r.role,
    state: r.state,
    phase: r.phase,
    actor: r.actor,
    reason: r.reason,
    ticket: r.ticket,
    emergency: r.emergency,
    dry_run: r.dryRun,
    requested_at: r.requestedAt,
    ended_at: ended,
    duration_seconds: secondsBetween(r.requestedAt ?? r.createdAt, ended ?? (r.dryRun ? r.updatedAt : now)),
    retire_after: r.retireAfter,
    new_kid: r.newKid,
    previous_kid: r.previousKid,
    failure: r.failure,
    diagnosis: r.diagnosis,
    rolled_back: r.rolledBack,
    timeline,
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
  const view = (s: MaterialStatusRecord | undefined, material: string, maxAgeMs: number | undefined): MaterialView => {
    const due = s?.currentSince && maxAgeMs !== undefined ? new Date(Date.parse(s.currentSince) + maxAgeMs) : null;
    return {
      material,
      zone_id: s?.zoneId ?? null,
      role: s?.role ?? null,
      current_kid: s?.currentKid ?? null,
      current_rotation_id: s?.currentRotationId ?? null,
      current_since: s?.currentSince ?? null,
      age_seconds: s?.materialAgeSeconds ?? null,
      max_age_seconds: maxAgeMs === undefined ? null : maxAgeMs / 1000,
      rotation_due_at: due?.toISOString() ?? null,
      overdue: due !== null && due <= now,
      latest_rotation_id: s?.latestRotationId ?? null,
      latest_state: s?.latestState ?? null,
      in_flight: s !== undefined && !isTerminal(s.latestState),
      never_rotated: s?.currentRotationId == null,
    };
  };
  const views: MaterialView[] = [];
  const listed = new Set<string>();
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

/** Reads the whole snapshot from the read model in one read-only, repeatable-read transaction. */
export async function readStatus(pool: pg.Pool, catalog: Catalog): Promise<StatusSnapshot> {
  const read = await readConsistent(pool, async (client) => {
    const now = (await client.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    const status = await materialStatus(client);
    const flying = await inFlightRotations(client, { limit: IN_FLIGHT_LIMIT });
    const ended = await recentlyEnded(client, { limit: HISTORY_LIMIT });
    const failures = await recentFailures(client, { limit: FAILURE_LIMIT });
    const events = await eventsOfRotations(client, [...new Set([...ended, ...failures.map((f) => f.rotation)].map((r) => r.rotationId))]);
    return { now, status, flying, ended, failures, events };
  });
  const { now, events } = read;
  const materials = capPerMaterial(materialViews(read.status, catalog, now), MATERIAL_ROWS_LIMIT);
  return {
    generated_at: now.toISOString(),
    materials: materials.kept,
    materials_omitted: materials.omitted,
    in_flight: read.flying.map((f) => rotationView(f.rotation, inFlightTimeline(f, now), now)),
    history: read.ended.map((r) => rotationView(r, recordedTimeline(events.get(r.rotationId) ?? []), now)),
    failures: read.failures.map((f) => ({
      ...rotationView(f.rotation, recordedTimeline(events.get(f.rotation.rotationId) ?? []), now),
      failed_checks: f.failedChecks.map(({ phase, name, detail }) => ({ phase, name, detail })),
    })),
  };
}
