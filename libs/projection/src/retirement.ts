import type pg from 'pg';
import { RETIRING_PROGRESS } from './states.js';

/** A rotation whose safety window has passed, locked for this transaction. */
export interface DueRetirement {
  rotationId: string;
  /** When the safety window ended. */
  retireAfter: string;
  /** What `retiring` carries forward: material, zone, role, batch, plan, new, previous. */
  context: Record<string, unknown> | null;
  /** Null until drain marks were taken. */
  drainMarkedAt: string | null;
}

/**
 * Locks up to `limit` rotations waiting for retirement whose window has
 * passed. SKIP LOCKED lets several recorder replicas share the work without
 * two of them handling one rotation. Must run inside a transaction.
 */
export async function lockDueRetirements(client: pg.ClientBase, limit: number): Promise<DueRetirement[]> {
  const { rows } = await client.query<{ rotation_id: string; retire_after: Date; context: Record<string, unknown> | null; drain_marked_at: Date | null }>(
    `SELECT rotation_id, retire_after, context, drain_marked_at
       FROM rotations
      WHERE state = 'waiting_retirement' AND retire_after <= now()
      ORDER BY retire_after
      LIMIT $1
      FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows.map((r) => ({
    rotationId: r.rotation_id,
    retireAfter: r.retire_after.toISOString(),
    context: r.context,
    drainMarkedAt: r.drain_marked_at?.toISOString() ?? null,
  }));
}

/** Moves a rotation to `retiring`, as projecting its `retiring` event would. */
export async function markRetiring(client: pg.ClientBase, rotationId: string): Promise<void> {
  await client.query(
    `UPDATE rotations SET state = 'retiring', progress = $2, phase = 'retire', updated_at = now()
      WHERE rotation_id = $1 AND progress < $2`,
    [rotationId, RETIRING_PROGRESS],
  );
}
