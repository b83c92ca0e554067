import type { OutgoingEvent, Publisher } from '@caracal-rotation/bus';
import { retiringDataSchema, stageEventId, type RetiringData, type RotationStreams } from '@caracal-rotation/contracts';
import type { Logger } from '@caracal-rotation/observability';
import {
  drainMarksOf,
  dueRetirements,
  plansById,
  recordDrainEvidence,
  recordDrainMarks,
  recordRetiringPublished,
  withRetirementLock,
  type DrainEvidence,
  type DrainMark,
  type DueRetirement,
  type RotationDrainMark,
} from '@caracal-rotation/projection';
import type pg from 'pg';
import { inspectGate } from './drain-gate.js';
import { takeDrainMarks } from './drain-marks.js';
import { every, type Periodic } from './periodic.js';
import type { RecorderMetrics } from './recorder-metrics.js';
import type { StreamHomes } from './stream-homes.js';

export interface RetirementDeps {
  pool: pg.Pool;
  homes: StreamHomes;
  publisher: Pick<Publisher, 'publishAll'>;
  streams: RotationStreams;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  batchSize: number;
  abandonAfterMs: number;
  republishAfterMs: number;
  metrics?: Pick<RecorderMetrics, 'drainPending'>;
}

/**
 * Marks for due rotations whose deploy restarts were never projected (events
 * arrive out of order): taken now, once per plan, since later marks are
 * only stricter.
 */
async function markUnmarked(deps: RetirementDeps, client: pg.ClientBase, due: readonly DueRetirement[]): Promise<void> {
  const unmarked = due.filter((d) => !d.marked);
  if (unmarked.length === 0) return;
  const plans = await plansById(
    client,
    unmarked.map((d) => d.planRef.id),
  );
  const byPlan = new Map<string, DrainMark[]>();
  for (const [id, stored] of plans) byPlan.set(id, await takeDrainMarks(deps.homes, stored.plan.drain));
  const marks: RotationDrainMark[] = unmarked.flatMap((d) => (byPlan.get(d.planRef.id) ?? []).map((m) => ({ ...m, rotationId: d.rotationId })));
  await recordDrainMarks(
    client,
    unmarked.map((d) => d.rotationId),
    marks,
  );
}

function retiringEvent(deps: RetirementDeps, due: DueRetirement, evidence: readonly DrainEvidence[]): OutgoingEvent | undefined {
  // Validated rather than asserted: the row's material comes from Postgres.
  const data = retiringDataSchema.safeParse({
    material: due.material,
    ...(due.zoneId ? { zone_id: due.zoneId } : {}),
    ...(due.role ? { role: due.role } : {}),
    ...(due.batchId ? { batch_id: due.batchId } : {}),
    plan: due.planRef,
    drain: evidence.map(({ stream, group, mark, pending, lag, abandoned }) => ({ stream, group, mark, pending, lag, ...(abandoned ? { abandoned } : {}) })),
    window_ended_at: due.retireAfter,
  });
  if (!data.success) {
    deps.logger.warn({ rotation_id: due.rotationId, err: data.error.message }, 'retirement skipped: the recorded rotation does not make a valid retiring');
    return undefined;
  }
  return { stream: deps.streams.retiring, name: 'retiring', eventId: stageEventId(due.rotationId, 'recorder', 'retire'), rotationId: due.rotationId, data: data.data };
}

function reportPending(deps: RetirementDeps, evidence: readonly DrainEvidence[]): void {
  if (!deps.metrics) return;
  const largest = new Map<string, { stream: string; group: string; pending: number }>();
  for (const e of evidence) {
    const key = `${e.stream}\u0000${e.group}`;
    if ((largest.get(key)?.pending ?? -1) < e.pending) largest.set(key, { stream: e.stream, group: e.group, pending: e.pending });
  }
  deps.metrics.drainPending.reset();
  for (const p of largest.values()) deps.metrics.drainPending.set({ stream: p.stream, group: p.group }, p.pending);
}

/**
 * One pass of the durable retirement timer, for every due rotation at once:
 * rotations past their rollback window whose `retiring` is not published,
 * their drain gate inspected once per stream and group, the evidence
 * recorded, and `retiring` published for each rotation whose pairs have all
 * drained (or been abandoned). Its state is Postgres, so it survives
 * restarts; one replica runs a pass at a time (the others skip), and a
 * `retiring` published again after a failure keeps its event id, which
 * consumers de-duplicate. Returns how many rotations it published.
 */
export async function retireDueRotations(deps: RetirementDeps): Promise<number> {
  const pass = await withRetirementLock(deps.pool, async (client) => {
    const due = await dueRetirements(client, { limit: deps.batchSize, republishAfterMs: deps.republishAfterMs });
    if (due.length === 0) {
      reportPending(deps, []);
      return 0;
    }
    await markUnmarked(deps, client, due);
    const marks = await drainMarksOf(
      client,
      due.map((d) => d.rotationId),
    );
    const evidence = await inspectGate(
      deps.homes,
      due.flatMap((d) => (marks.get(d.rotationId) ?? []).map((m) => ({ ...m, rotationId: d.rotationId }))),
      deps.abandonAfterMs,
    );
    await recordDrainEvidence(client, evidence);
    reportPending(deps, evidence);

    const byRotation = new Map<string, DrainEvidence[]>(due.map((d) => [d.rotationId, []]));
    for (const e of evidence) byRotation.get(e.rotationId)!.push(e);
    const ready: OutgoingEvent[] = [];
    for (const d of due) {
      const gate = byRotation.get(d.rotationId)!;
      const holding = gate.filter((e) => !e.drained && !e.abandoned);
      if (holding.length > 0) {
        deps.logger.debug({ rotation_id: d.rotationId, holding: holding.map(({ stream, group, pending }) => ({ stream, group, pending })) }, 'retirement waits for the drain gate');
        continue;
      }
      const abandoned = gate.filter((e) => e.abandoned);
      if (abandoned.length > 0) {
        deps.logger.warn({ rotation_id: d.rotationId, abandoned: abandoned.map(({ stream, group, pending, idleMs }) => ({ stream, group, pending, idle_ms: idleMs })) }, 'drain groups abandoned: no live consumer reads them');
      }
      const event = retiringEvent(deps, d, gate);
      if (event) ready.push(event);
    }
    if (ready.length === 0) return 0;
    try {
      await deps.publisher.publishAll(ready);
    } catch (err) {
      // The evidence is kept; the rotations stay due and the next pass publishes the same event ids.
      deps.logger.warn({ rotations: ready.length, err: err instanceof Error ? err.message : String(err) }, 'publishing retiring failed; will retry');
      return 0;
    }
    await recordRetiringPublished(
      client,
      ready.map((e) => e.rotationId),
    );
    for (const e of ready) deps.logger.info({ rotation_id: e.rotationId, material: (e.data as RetiringData).material, zone_id: (e.data as RetiringData).zone_id }, 'retiring');
    return ready.length;
  });
  return pass.skipped ? 0 : pass.result;
}

export function startRetirementTimer(deps: RetirementDeps, tickMs: number): Periodic {
  return every(tickMs, () => retireDueRotations(deps), (err) =>
    deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'retirement tick failed; will retry'),
  );
}
