import { subscribe, type RedisClient, type Subscription } from '@caracal-rotation/bus';
import { EVENT_NAMES, type EventName, type RolledData, type RotationEvent, type RotationStreams } from '@caracal-rotation/contracts';
import { applyEvent } from '@caracal-rotation/projection';
import type pg from 'pg';
import { takeDrainMarks } from './drain-marks.js';

export interface ProjectionDeps {
  pool: pg.Pool;
  redis: RedisClient;
  streams: RotationStreams;
  /** Called after an event was recorded for the first time (never for a duplicate), once committed. */
  onRecorded?: (name: EventName, event: RotationEvent<unknown>) => void;
}

/** Requests are recorded even when invalid (the planner rejects them): any JSON object will do. */
function anyJsonObject(data: unknown): Record<string, unknown> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('data is not a JSON object');
  return data as Record<string, unknown>;
}

const isDeployRoll = (name: EventName, event: RotationEvent<unknown>): event is RotationEvent<RolledData> =>
  name === 'rolled' && (event.data as RolledData).phase === 'deploy';

/**
 * Projects one event in one transaction. The deploy roll also takes the drain
 * marks, recorded in that same transaction, so "event recorded" always means
 * "marks recorded". Emits nothing: the consumer acknowledges after the commit,
 * and a failure (Postgres down) leaves the entry pending for a retry.
 */
export async function projectEvent(deps: ProjectionDeps, name: EventName, event: RotationEvent<unknown>): Promise<void> {
  const drainMarks = isDeployRoll(name, event) ? await takeDrainMarks(deps.redis, event.data.plan.drain, deps.streams) : undefined;
  const result = await applyEvent(deps.pool, event.stream, event, name, { drainMarks });
  if (result.applied) deps.onRecorded?.(name, event);
}

/** The recorder's subscription to every rotation stream. */
export function projectionSubscriptions(deps: ProjectionDeps): Subscription<unknown>[] {
  return EVENT_NAMES.map((name) =>
    subscribe({
      stream: deps.streams[name],
      event: name,
      parse: name === 'requested' ? anyJsonObject : undefined,
      handle: (event) => projectEvent(deps, name, event),
    }),
  );
}
