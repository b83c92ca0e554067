import { getRotation } from '@caracal-rotation/projection';
import type pg from 'pg';
import { waitFor } from './rotation-evidence.js';

/** A rotation as the projection shows it, without the bookkeeping time (`updatedAt` moves whenever an event is recorded). */
export async function projectedFacts(pool: pg.Pool, rotationId: string): Promise<Record<string, unknown> | undefined> {
  const row = await getRotation(pool, rotationId);
  if (!row) return undefined;
  const { updatedAt: _updatedAt, ...facts } = row;
  return facts;
}

export async function projectedState(pool: pg.Pool, rotationId: string): Promise<string | undefined> {
  return (await getRotation(pool, rotationId))?.state;
}

/** Events the projection recorded for a rotation. */
export async function recordedEvents(pool: pg.Pool, rotationId: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM rotation_events WHERE rotation_id = $1', [rotationId]);
  return Number(rows[0]!.n);
}

/** Waits until the projection shows the rotation in one of `states`. */
export async function untilProjected(pool: pg.Pool, rotationId: string, states: readonly string[], timeoutMs: number): Promise<string> {
  return waitFor(`rotation ${rotationId} projected as ${states.join(' or ')}`, async () => {
    const state = await projectedState(pool, rotationId);
    return state && states.includes(state) ? state : undefined;
  }, timeoutMs);
}
