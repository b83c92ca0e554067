import { inspectDrain, type DrainReport, type Publisher, type RedisClient } from '@caracal-rotation/bus';
import { retiringDataSchema, stageEventId, type RotationStreams } from '@caracal-rotation/contracts';
import type { Logger } from '@caracal-rotation/observability';
import {
  drainMarksOf,
  lockDueRetirements,
  markRetiring,
  recordDrainEvidence,
  recordDrainMarks,
  transaction,
  type DrainEvidence,
  type DrainMark,
  type DueRetirement,
} from '@caracal-rotation/projection';
import type pg from 'pg';
import type { z } from 'zod';
import { takeDrainMarks } from './drain-marks.js';
import { every, type Periodic } from './periodic.js';

export interface RetirementDeps {
  pool: pg.Pool;
  redis: RedisClient;
  publisher: Pick<Publisher, 'publishAll'>;
  streams: RotationStreams;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  batchSize: number;
}

/** What `retiring` carries forward, as recorded from the deploy phase. */
const carriedSchema = retiringDataSchema.omit({ drain: true, window_ended_at: true });

/** The marks of a due rotation; taken now when the deploy roll's event has not been projected yet (later marks are at least as strict). */
async function marksOf(deps: RetirementDeps, client: pg.ClientBase, due: DueRetirement, drainSet: Parameters<typeof takeDrainMarks>[1]) {
  if (due.drainMarkedAt === null) await recordDrainMarks(client, due.rotationId, await takeDrainMarks(deps.redis, drainSet, deps.streams));
  return drainMarksOf(client, due.rotationId);
}

const toEvidence = (r: DrainReport): DrainEvidence => ({
  stream: r.stream,
  group: r.group,
  mark: r.mark ?? '0-0',
  pending: r.pending,
  lag: r.lag,
  drained: r.drained === true,
});

/**
 * One pass of the durable retirement timer: locks due rotations (SKIP LOCKED,
 * so replicas share them), runs the drain gate for all of them in one
 * inspection, records the evidence, publishes `retiring` for every rotation
 * whose pairs have all drained and moves those rows on. The timer's state is
 * the `rotations` table, so it survives restarts. If the publish succeeds and
 * the commit then fails, the next pass publishes the same event ids again,
 * which consumers de-duplicate.
 */
export async function retireDueRotations(deps: RetirementDeps): Promise<number> {
  return transaction(deps.pool, async (client) => {
    const gated: { due: DueRetirement; carried: z.infer<typeof carriedSchema>; marks: DrainMark[] }[] = [];
    for (const due of await lockDueRetirements(client, deps.batchSize)) {
      const carried = carriedSchema.safeParse(due.context);
      if (!carried.success) {
        deps.logger.warn({ rotation_id: due.rotationId }, 'retirement skipped: the recorded deploy context is incomplete');
        continue;
      }
      gated.push({ due, carried: carried.data, marks: await marksOf(deps, client, due, carried.data.plan.drain) });
    }
    if (gated.length === 0) return 0;

    const reports = await inspectDrain(deps.redis, gated.flatMap((g) => g.marks));
    const ready: typeof gated = [];
    let offset = 0;
    const evidenceOf = new Map<string, DrainEvidence[]>();
    for (const g of gated) {
      const evidence = reports.slice(offset, offset + g.marks.length).map(toEvidence);
      offset += g.marks.length;
      await recordDrainEvidence(client, g.due.rotationId, evidence);
      evidenceOf.set(g.due.rotationId, evidence);
      const blocking = evidence.filter((e) => !e.drained);
      if (blocking.length === 0) ready.push(g);
      else deps.logger.debug({ rotation_id: g.due.rotationId, blocking }, 'retirement waits for the drain gate');
    }

    if (ready.length === 0) return 0;
    try {
      await deps.publisher.publishAll(
        ready.map(({ due, carried }) => ({
          stream: deps.streams.retiring,
          name: 'retiring' as const,
          eventId: stageEventId(due.rotationId, 'recorder', 'retire'),
          rotationId: due.rotationId,
          data: retiringDataSchema.parse({
            ...carried,
            drain: evidenceOf.get(due.rotationId)!.map(({ stream, group, mark, pending, lag }) => ({ stream, group, mark, pending, lag })),
            window_ended_at: due.retireAfter,
          }),
        })),
      );
    } catch (err) {
      // The rows stay due; the next pass publishes the same event ids again.
      deps.logger.warn({ rotations: ready.length, err: err instanceof Error ? err.message : String(err) }, 'publishing retiring failed; will retry');
      return 0;
    }
    for (const { due, carried } of ready) {
      await markRetiring(client, due.rotationId);
      deps.logger.info({ rotation_id: due.rotationId, material: carried.material, zone_id: carried.zone_id }, 'retiring');
    }
    return ready.length;
  });
}

export function startRetirementTimer(deps: RetirementDeps, tickMs: number): Periodic {
  return every(tickMs, () => retireDueRotations(deps), (err) =>
    deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'retirement tick failed; will retry'),
  );
}
