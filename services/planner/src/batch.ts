import type { OutgoingEvent } from '@caracal-rotation/bus';
import { childRotationId, stageEventId, stateKeys, type PlanRef, type PlannedData, type RejectedData } from '@caracal-rotation/contracts';
import type { AcceptedRequest } from '@caracal-rotation/planning';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import type { ClassLock, QueueItem } from './class-lock.js';

/** Pages of Caracal's zones, for `zone_id: "*"`. */
export interface ZoneLister {
  /** Why zones cannot be listed now (no token), or undefined when they can. */
  problem(): Promise<string | undefined>;
  page(cursor: string | null, limit: number): Promise<{ zones: string[]; next: string | null }>;
}

export interface BatchJob {
  runtime: ServiceRuntime;
  lock: ClassLock;
  chunk: number;
  zoneLister: ZoneLister | undefined;
  batchId: string;
  request: AcceptedRequest;
  plan: PlanRef;
  actor: string;
  /** Plans what the queue hands over once the batch stops holding its own subjects. */
  handOff: (items: QueueItem[], trigger: string) => Promise<OutgoingEvent[]>;
}

/**
 * Plans a batch of zone rotations a chunk at a time, so a request for every
 * zone of a large deployment needs memory for one chunk only. Each child
 * takes its zone in the lock and gets its own `planned` (or a rejection if
 * another rotation holds that zone). Progress is kept in Redis: a planner
 * that dies half-way resumes at the next chunk, and what it had already
 * published carries the same event ids.
 */
export async function planBatch(job: BatchJob): Promise<OutgoingEvent[]> {
  const { runtime, lock, batchId, request, plan, actor } = job;
  const { redis, streams, publisher } = runtime;
  const progressKey = stateKeys(streams.prefix).batch(batchId);
  const progress = await redis.hgetall(progressKey);
  let cursor: string | null = progress.cursor ?? null;
  let index = Number(progress.index ?? 0);
  let planned = Number(progress.planned ?? 0);

  const explicit = request.zones === 'all' ? undefined : request.zones;
  for (;;) {
    if (await redis.hexists(progressKey, 'abandoned')) break;
    let zones: string[];
    let next: string | null;
    if (explicit) {
      zones = explicit.slice(index, index + job.chunk);
      next = index + job.chunk < explicit.length ? String(index + job.chunk) : null;
    } else {
      ({ zones, next } = await job.zoneLister!.page(cursor, job.chunk));
    }
    const children = zones.map((zone) => ({
      zone,
      rotationId: childRotationId(batchId, zone),
      subject: `zone:${zone}`,
    }));
    const taken = await lock.addSubjects(children.map((c) => ({ subject: c.subject, rotationId: c.rotationId, info: { subjects: [c.subject], material: request.material, zone_id: c.zone, batch_id: batchId, plan } })));
    const events: OutgoingEvent[] = children.map((c) =>
      taken.has(c.subject)
        ? {
            stream: streams.rejected,
            name: 'rejected',
            eventId: stageEventId(c.rotationId, 'planner', 'reject'),
            rotationId: c.rotationId,
            data: { material: request.material, zone_id: c.zone, batch_id: batchId, reason_code: 'duplicate_in_flight', message: `zone ${c.zone} is already being rotated` } satisfies RejectedData,
          }
        : {
            stream: streams.planned,
            name: 'planned',
            eventId: stageEventId(c.rotationId, 'planner', 'plan'),
            rotationId: c.rotationId,
            data: { material: request.material, zone_id: c.zone, batch_id: batchId, actor, plan, dry_run: false } satisfies PlannedData,
          },
    );
    await publisher.publishAll(events);
    planned += children.length - taken.size;
    index += zones.length;
    cursor = explicit ? null : next;
    await redis.hset(progressKey, { cursor: cursor ?? '', index, planned });
    await redis.expire(progressKey, 30 * 24 * 3600);
    if (next === null) break;
  }

  // The batch's own subjects go; its children keep their zones until each ends.
  const handed = await job.handOff(await lock.release(`batch-planned/${batchId}`, batchId), `batch-planned/${batchId}`);
  const parent: OutgoingEvent = {
    stream: streams.planned,
    name: 'planned',
    eventId: stageEventId(batchId, 'planner', 'plan'),
    rotationId: batchId,
    data: { material: request.material, actor, plan, dry_run: false, batch: { zones: planned } } satisfies PlannedData,
  };
  if (planned === 0 && index === 0) {
    const none: OutgoingEvent = {
      stream: streams.rejected,
      name: 'rejected',
      eventId: stageEventId(batchId, 'planner', 'reject'),
      rotationId: batchId,
      data: { material: request.material, zone_id: request.zones === 'all' ? '*' : undefined, reason_code: 'unknown_zone', message: "Caracal's API lists no zone" } satisfies RejectedData,
    };
    return [none, ...handed];
  }
  return [parent, ...handed];
}
