import { PermanentHandlerError, type PlanStore, type SignedEvent } from '@caracal-rotation/bus';
import type { EventName, Plan, PlanRef, RolledData, WrittenData } from '@caracal-rotation/contracts';
import { rollsIn } from '@caracal-rotation/lifecycle';
import type { Logger } from '@caracal-rotation/observability';
import { applyEvents, type BatchResult, type DrainMark, type ProjectedEvent } from '@caracal-rotation/projection';
import type pg from 'pg';
import { takeDrainMarks } from './drain-marks.js';
import { materialLabel, type RecorderMetrics } from './recorder-metrics.js';
import type { StreamHomes } from './stream-homes.js';

/** An admitted entry of one rotation stream. */
export interface IncomingEvent {
  name: EventName;
  event: SignedEvent<unknown>;
}

export interface ProjectorDeps {
  pool: pg.Pool;
  plans: Pick<PlanStore, 'get'>;
  homes: StreamHomes;
  logger: Pick<Logger, 'warn' | 'debug'>;
  metrics?: Pick<RecorderMetrics, 'rotationsTotal' | 'projectedEvents' | 'projectionLag'>;
}

const planRefOf = (data: unknown): PlanRef | undefined => (data as { plan?: PlanRef } | null)?.plan;

/** Who signed an event, as the projection records it. */
const signerOf = (e: SignedEvent<unknown>): string => (e.signer.kind === 'operator' ? `operator:${e.signer.name ?? e.signer.kid}` : e.signer.kind);

/** The event after which the deploy's restarts are complete: its `rolled`, or its `written` when nothing restarts. */
function completesDeployRoll(name: EventName, data: unknown, plan: Plan | undefined): boolean {
  if (!plan) return false;
  if (name === 'rolled') return (data as RolledData).phase === 'deploy';
  return name === 'written' && (data as WrittenData).phase === 'deploy' && !rollsIn(plan, 'deploy');
}

/**
 * Projects admitted events into Postgres: reads each plan once (PlanStore
 * checks its hash), takes the drain marks of events that complete the
 * deploy's restarts, and applies the whole batch in one transaction. A
 * failure (Postgres or Redis down) throws, so the entries stay pending and
 * are retried; nothing is acknowledged before the commit.
 */
export function createProjector(deps: ProjectorDeps) {
  /** The plans the batch names; a plan Redis no longer holds (or that was altered) is left to the projection's copy. */
  async function readPlans(batch: readonly IncomingEvent[]): Promise<Map<string, Plan>> {
    const refs = new Map<string, PlanRef>();
    for (const { event } of batch) {
      const ref = planRefOf(event.data);
      if (ref) refs.set(`${ref.id}/${ref.hash}`, ref);
    }
    const plans = new Map<string, Plan>();
    for (const [key, ref] of refs) {
      try {
        plans.set(key, await deps.plans.get(ref));
      } catch (err) {
        if (!(err instanceof PermanentHandlerError)) throw err;
        deps.logger.warn({ plan_id: ref.id, code: err.code, err: err.message }, 'plan unavailable; projecting without it');
      }
    }
    return plans;
  }

  async function project(batch: readonly IncomingEvent[]): Promise<BatchResult> {
    const plans = await readPlans(batch);
    // The rotations of one plan (a batch of zones) share a drain set: its marks are taken once per batch.
    const marksOf = new Map<string, Promise<DrainMark[]>>();
    const projected: ProjectedEvent[] = [];
    for (const { name, event } of batch) {
      const ref = planRefOf(event.data);
      const key = ref ? `${ref.id}/${ref.hash}` : '';
      const plan = plans.get(key);
      let drainMarks: DrainMark[] | undefined;
      if (completesDeployRoll(name, event.data, plan)) {
        if (!marksOf.has(key)) marksOf.set(key, takeDrainMarks(deps.homes, plan!.drain));
        drainMarks = await marksOf.get(key)!;
      }
      projected.push({ name, event, signer: signerOf(event), plan, drainMarks });
    }
    const result = await applyEvents(deps.pool, projected);

    const committedAt = Date.now();
    for (const e of result.recorded) deps.metrics?.projectedEvents.inc({ type: e.name, outcome: 'recorded' });
    if (result.duplicates > 0) deps.metrics?.projectedEvents.inc({ type: 'any', outcome: 'duplicate' }, result.duplicates);
    if (result.recorded.length > 0) {
      deps.metrics?.projectionLag.set(Math.max(0, ...result.recorded.map((e) => (committedAt - Date.parse(e.event.occurredAt)) / 1000)));
    }
    for (const change of result.changes) {
      if (change.to === 'completed' || change.to === 'failed' || change.to === 'rejected' || change.to === 'abandoned') {
        deps.metrics?.rotationsTotal.inc({ material: materialLabel(change.material), outcome: change.to });
      }
    }
    return result;
  }

  return { project };
}

export type Projector = ReturnType<typeof createProjector>;
