import type { Plan } from '@caracal-rotation/contracts';
import { isSuperseded, type LifecycleEvent, type Position, type RotationState } from '@caracal-rotation/lifecycle';
import pg from 'pg';
import type { Database } from '../transaction.js';
import { isUuid } from '../values.js';

/** Where the projection last saw a rotation, or undefined when it has not seen it. */
export async function rotationPosition(db: Database, rotationId: string): Promise<Position | undefined> {
  if (!isUuid(rotationId)) return undefined;
  const { rows } = await db.query<{ state: RotationState; progress: number }>('SELECT state, progress FROM rotations WHERE rotation_id = $1', [rotationId]);
  return rows[0];
}

/**
 * The roller's and verifier's second line against replays: de-duplication
 * marks expire (or are deleted), the projection does not. An event the
 * rotation has moved past is not acted on again. The recorder may lag, so
 * the guard can only ever let too much through, never stop a live step;
 * while Postgres cannot be reached it lets everything through and says so
 * (the de-duplication marks still hold).
 */
export interface ReplayGuard {
  superseded(rotationId: string, event: LifecycleEvent, plan?: Plan): Promise<boolean>;
  close(): Promise<void>;
}

export const noReplayGuard: ReplayGuard = { superseded: async () => false, close: async () => undefined };

export function projectionReplayGuard(databaseUrl: string, onUnavailable: (err: Error) => void): ReplayGuard {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 2_000, idleTimeoutMillis: 30_000 });
  // One report a minute, not one per event, while Postgres stays away.
  let reportedAt = 0;
  const report = (err: unknown) => {
    if (Date.now() - reportedAt < 60_000) return;
    reportedAt = Date.now();
    onUnavailable(err instanceof Error ? err : new Error(String(err)));
  };
  pool.on('error', report);
  return {
    async superseded(rotationId, event, plan) {
      try {
        return isSuperseded(await rotationPosition(pool, rotationId), event, plan);
      } catch (err) {
        report(err);
        return false;
      }
    },
    close: () => pool.end(),
  };
}

/** The guard a stage runs with: the projection's when DATABASE_URL is set, none otherwise. */
export const replayGuardFor = (databaseUrl: string | undefined, logger: { warn(fields: object, message: string): void }): ReplayGuard =>
  databaseUrl
    ? projectionReplayGuard(databaseUrl, (err) => logger.warn({ err: err.message }, 'the projection cannot be read: only de-duplication marks stop replays until it can'))
    : noReplayGuard;
