import { inspectDrain, type Publisher, type RedisClient } from '@caracal-rotation/bus';
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
  type DueRetirement,
} from '@caracal-rotation/projection';
import type pg from 'pg';
import { takeDrainMarks } from './drain-marks.js';
import { every, type Periodic } from './periodic.js';

export interface RetirementDeps {
  pool: pg.Pool;
  redis: RedisClient;
  publisher: Pick<Publisher, 'publish'>;
  streams: RotationStreams;
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  batchSize: number;
}

/** What `retiring` carries forward, as recorded from the deploy phase. */
const carriedSchema = retiringDataSchema.omit({ drain: true, window_ended_at: true });

async function drainEvidence(deps: RetirementDeps, client: pg.ClientBase, due: DueRetirement, drainSet: Parameters<typeof takeDrainMarks>[1]) {
  if (due.drainMarkedAt === null) {
    // The deploy roll's event has not been projected yet, so its marks were
    // never taken. Marks taken now are later, hence at least as strict.
    await recordDrainMarks(client, due.rotationId, await takeDrainMarks(deps.redis, drainSet, deps.streams));
  }
  const marks = await drainMarksOf(client, due.rotationId);
  const reports = await inspectDrain(deps.redis, marks);
  const evidence: DrainEvidence[] = reports.map((r) => ({
    stream: r.stream,
    group: r.group,
    mark: r.mark ?? '0-0',
    pending: r.pending,
    lag: r.lag,
    drained: r.drained === true,
  }));
  await recordDrainEvidence(client, due.rotationId, evidence);
  return evidence;
}

/**
 * The drain gate for one rotation whose window has passed: records the
 * evidence, and when every pair has drained publishes `retiring` and moves the
 * row on. If the publish succeeds and the commit then fails, the next tick
 * publishes the same event id again, which consumers de-duplicate.
 */
async function retireOne(deps: RetirementDeps, client: pg.ClientBase, due: DueRetirement): Promise<boolean> {
  const carried = carriedSchema.parse(due.context);
  const evidence = await drainEvidence(deps, client, due, carried.plan.drain);
  const blocking = evidence.filter((e) => !e.drained);
  if (blocking.length > 0) {
    deps.logger.debug({ rotation_id: due.rotationId, blocking }, 'retirement waits for the drain gate');
    return false;
  }
  const data = retiringDataSchema.parse({
    ...carried,
    drain: evidence.map(({ stream, group, mark, pending, lag }) => ({ stream, group, mark, pending, lag })),
    window_ended_at: due.retireAfter,
  });
  await deps.publisher.publish({
    stream: deps.streams.retiring,
    name: 'retiring',
    eventId: stageEventId(due.rotationId, 'recorder', 'retire'),
    rotationId: due.rotationId,
    data,
  });
  await markRetiring(client, due.rotationId);
  deps.logger.info({ rotation_id: due.rotationId, material: carried.material, zone_id: carried.zone_id, pairs: evidence.length }, 'retiring');
  return true;
}

/**
 * One pass of the durable retirement timer: locks due rotations (SKIP LOCKED,
 * so replicas share them) and runs the drain gate on each, each under its own
 * savepoint so one failure does not undo the others. Returns how many were
 * retired. The timer's state is the `rotations` table, so it survives restarts.
 */
export async function retireDueRotations(deps: RetirementDeps): Promise<number> {
  return transaction(deps.pool, async (client) => {
    let retired = 0;
    for (const due of await lockDueRetirements(client, deps.batchSize)) {
      await client.query('SAVEPOINT retire_one');
      try {
        if (await retireOne(deps, client, due)) retired += 1;
        await client.query('RELEASE SAVEPOINT retire_one');
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT retire_one');
        deps.logger.warn({ rotation_id: due.rotationId, err: err instanceof Error ? err.message : String(err) }, 'retirement check failed; will retry');
      }
    }
    return retired;
  });
}

export function startRetirementTimer(deps: RetirementDeps, tickMs: number): Periodic {
  return every(tickMs, () => retireDueRotations(deps), (err) =>
    deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'retirement tick failed; will retry'),
  );
}
