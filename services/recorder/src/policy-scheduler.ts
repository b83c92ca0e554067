import type { Publisher, RedisClient } from '@caracal-rotation/bus';
import { childRotationId, normalizeMaterial, stageEventId, type Catalog, type CatalogEntry, type RequestedData, type RotationStreams } from '@caracal-rotation/contracts';
import { isTerminal } from '@caracal-rotation/lifecycle';
import type { Logger } from '@caracal-rotation/observability';
import { existingRotations, inFlightSubjects, materialStatus, type MaterialStatusRecord } from '@caracal-rotation/projection';
import type pg from 'pg';
import { every, type Periodic } from './periodic.js';
import type { RecorderMetrics } from './recorder-metrics.js';

export interface PolicyDeps {
  pool: pg.Pool;
  redis: RedisClient;
  /** Signs with the bus key: the planner records such a request's actor as the schedule. */
  publisher: Pick<Publisher, 'publish'>;
  streams: RotationStreams;
  catalog: Catalog;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  /** Requests emitted per pass at most. */
  batchSize: number;
  /** Lifetime of the Redis guard of one generation. */
  guardTtlMs: number;
  metrics?: Pick<RecorderMetrics, 'policyRequestsTotal'>;
}

export interface PolicyRequest {
  rotationId: string;
  /** The completed rotation whose material is too old: the generation this request replaces. */
  generationOf: string;
  data: RequestedData;
}

const UNITS: [ms: number, singular: string, plural: string][] = [
  [86_400_000, 'day', 'days'],
  [3_600_000, 'hour', 'hours'],
  [60_000, 'minute', 'minutes'],
  [1_000, 'second', 'seconds'],
];

/** `90 days`, `12 hours`, `1.5 minutes`, `200 ms`: the largest unit the duration reaches, one decimal at most. */
export function humanDuration(ms: number): string {
  for (const [unit, singular, plural] of UNITS) {
    if (ms >= unit) {
      const value = Math.round((ms / unit) * 10) / 10;
      return `${value} ${value === 1 ? singular : plural}`;
    }
  }
  return `${ms} ms`;
}

/** The zone or role a status row is about, as the request must name it (neither when the material needs neither; undefined when the row lacks it). */
function subjectOf(entry: CatalogEntry, row: MaterialStatusRecord): { zone_id?: string; role?: string } | undefined {
  if (entry.needs === 'zone') return row.zoneId && row.zoneId !== '*' ? { zone_id: row.zoneId } : undefined;
  if (entry.needs === 'role') return row.role ? { role: row.role } : undefined;
  return {};
}

/** In flight per subject; `material||` (no zone, no role) stands for the whole material. */
const subjectKey = (material: string, zone: string | null, role: string | null): string =>
  `${normalizeMaterial(material) ?? material}|${zone === '*' ? '' : (zone ?? '')}|${role ?? ''}`;

/**
 * The requests the rotation policies call for now, from the projection alone:
 * for every material/zone/role of a catalog material with `max_age_ms` whose
 * current material (its latest completed rotation, in `rotation_status`) is
 * older than that, and with no rotation of that material (for that zone or
 * role) in flight, one request whose rotation id is derived from that
 * completed rotation: the same generation always yields the same id.
 * Material never rotated by this system has no completed row, hence no known
 * age, and is not scheduled: its age is unknown here, and bringing it under
 * the system's management is an operator's decision (a first manual rotation).
 */
export async function duePolicyRequests(pool: pg.Pool, catalog: Catalog): Promise<PolicyRequest[]> {
  const policies = new Map(catalog.materials.filter((m) => m.max_age_ms !== undefined).map((m) => [m.material as string, m]));
  if (policies.size === 0) return [];
  const [status, subjects] = await Promise.all([materialStatus(pool), inFlightSubjects(pool)]);
  // A rotation of a zone- or role-scoped material naming neither (a batch, `zone_id: "*"`) holds the whole material.
  const busy = new Set(subjects.map((r) => subjectKey(r.material, r.zoneId, r.role)));

  const due: PolicyRequest[] = [];
  for (const row of status) {
    const entry = policies.get(row.material);
    if (!entry) continue;
    if (row.currentRotationId === null || row.materialAgeSeconds === null) continue; // never rotated by this system
    if (row.materialAgeSeconds * 1000 <= entry.max_age_ms!) continue;
    if (!isTerminal(row.latestState)) continue; // this very subject is in flight
    if (busy.has(subjectKey(entry.material, null, null)) || busy.has(subjectKey(entry.material, row.zoneId, row.role))) continue;
    const subject = subjectOf(entry, row);
    if (subject === undefined) continue;
    const member = `policy:${entry.material}:${subject.zone_id ?? subject.role ?? ''}`;
    due.push({
      rotationId: childRotationId(row.currentRotationId, member),
      generationOf: row.currentRotationId,
      data: {
        material: entry.material,
        ...subject,
        reason: `policy: ${entry.material} older than ${humanDuration(entry.max_age_ms!)}`,
      },
    });
  }
  if (due.length === 0) return [];
  // A generation whose policy request the projection already holds (in any
  // state: in flight, failed, rejected…) is never requested again: a failed
  // scheduled rotation waits for an operator (the failure alert and the
  // max-age alert fire), it is not retried in a loop.
  const recorded = await existingRotations(
    pool,
    due.map((d) => d.rotationId),
  );
  return due.filter((d) => !recorded.has(d.rotationId));
}

/** The Redis key that makes one generation's policy request a once-only event across replicas and restarts. */
export const policyGuardKey = (streams: RotationStreams, rotationId: string): string => `${streams.prefix}:policy:${rotationId}`;

/**
 * One pass of the policy scheduler. Each due request is guarded with
 * `SET <prefix>:policy:<rotation id> NX EX …` before it is published, so two
 * replicas (or a replica and its restarted self, before the projection has
 * recorded the request) never both emit it; the event id is derived from the
 * rotation id, so even a duplicate would be de-duplicated by consumers. When
 * the publish fails the guard is removed so the next pass tries again.
 * Returns the requests this pass emitted.
 */
export async function schedulePolicyRotations(deps: PolicyDeps): Promise<PolicyRequest[]> {
  const emitted: PolicyRequest[] = [];
  const ttlSeconds = Math.max(1, Math.ceil(deps.guardTtlMs / 1000));
  for (const request of (await duePolicyRequests(deps.pool, deps.catalog)).slice(0, deps.batchSize)) {
    const guard = policyGuardKey(deps.streams, request.rotationId);
    const won = await deps.redis.set(guard, request.generationOf, 'EX', ttlSeconds, 'NX');
    if (won !== 'OK') {
      deps.logger.debug({ rotation_id: request.rotationId }, 'policy request already emitted for this generation');
      continue;
    }
    try {
      await deps.publisher.publish({
        stream: deps.streams.requested,
        name: 'requested',
        eventId: stageEventId(request.rotationId, 'recorder', 'policy'),
        rotationId: request.rotationId,
        data: request.data,
      });
    } catch (err) {
      await deps.redis.del(guard).catch(() => undefined);
      throw err;
    }
    deps.metrics?.policyRequestsTotal.inc({ material: request.data.material });
    deps.logger.info(
      { rotation_id: request.rotationId, material: request.data.material, zone_id: request.data.zone_id, role: request.data.role, generation_of: request.generationOf },
      'rotation requested by policy',
    );
    emitted.push(request);
  }
  return emitted;
}

/** The scheduler's timer; none when `tickMs` is 0 (disabled). */
export function startPolicyScheduler(deps: PolicyDeps, tickMs: number): Periodic | undefined {
  if (tickMs <= 0) return undefined;
  return every(tickMs, () => schedulePolicyRotations(deps), (err) =>
    deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'policy tick failed; will retry'),
  );
}
