import type { PlanRef } from '@caracal-rotation/contracts';
import type pg from 'pg';
import { transaction } from './transaction.js';

/** A rotation whose rollback window has ended and whose `retiring` is not (recently) published. */
export interface DueRetirement {
  rotationId: string;
  material: string;
  zoneId: string | null;
  role: string | null;
  batchId: string | null;
  planRef: PlanRef;
  /** When the rollback window ended. */
  retireAfter: string;
  /** Whether the drain marks were taken (the deploy's restarts were projected). */
  marked: boolean;
}

export interface DueOptions {
  limit: number;
  /** A `retiring` published this long ago and still not projected is published again (same event id). */
  republishAfterMs: number;
}

/**
 * Rotations waiting for retirement whose window has passed, oldest first.
 * Those without a stored plan are left out: the timer cannot build their
 * drain gate, and no stage could act on their plan either.
 */
export async function dueRetirements(db: pg.ClientBase | pg.Pool, options: DueOptions): Promise<DueRetirement[]> {
  const { rows } = await db.query<{
    rotation_id: string;
    material: string;
    zone_id: string | null;
    role: string | null;
    batch_id: string | null;
    plan_id: string;
    hash: string;
    retire_after: Date;
    marked_at: Date | null;
  }>(
    `SELECT r.rotation_id, r.material, r.zone_id, r.role, r.batch_id, r.plan_id, p.hash, r.retire_after, t.marked_at
       FROM rotations r
       JOIN rotation_plans p ON p.plan_id = r.plan_id
       LEFT JOIN rotation_retirements t ON t.rotation_id = r.rotation_id
      WHERE r.state = 'waiting_retirement' AND r.retire_after <= now() AND r.material IS NOT NULL
        AND (t.published_at IS NULL OR t.published_at <= now() - make_interval(secs => $2::double precision / 1000))
      ORDER BY r.retire_after, r.rotation_id
      LIMIT $1`,
    [options.limit, options.republishAfterMs],
  );
  return rows.map((r) => ({
    rotationId: r.rotation_id,
    material: r.material,
    zoneId: r.zone_id,
    role: r.role,
    batchId: r.batch_id,
    planRef: { id: r.plan_id, hash: r.hash },
    retireAfter: r.retire_after.toISOString(),
    marked: r.marked_at !== null,
  }));
}

/** Notes that `retiring` was published for these rotations, so the next passes leave them alone. */
export async function recordRetiringPublished(db: pg.ClientBase | pg.Pool, rotationIds: readonly string[]): Promise<void> {
  if (rotationIds.length === 0) return;
  await db.query(
    `INSERT INTO rotation_retirements (rotation_id, published_at, publications)
     SELECT id, now(), 1 FROM unnest($1::uuid[]) AS id
     ON CONFLICT (rotation_id) DO UPDATE SET published_at = now(), publications = rotation_retirements.publications + 1`,
    [rotationIds],
  );
}

/**
 * Runs one retirement pass in a transaction that holds the timer's lock, or
 * answers `skipped` when another replica's pass holds it: one replica
 * inspects the drain set and publishes at a time, so replicas never publish
 * one `retiring` twice in a way that matters.
 */
export async function withRetirementLock<T>(pool: pg.Pool, work: (client: pg.ClientBase) => Promise<T>): Promise<{ skipped: true } | { skipped: false; result: T }> {
  return transaction(pool, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_xact_lock(hashtextextended('caracal-rotation/retirement/' || coalesce(current_schema(), ''), 0)) AS locked`,
    );
    if (!rows[0]!.locked) return { skipped: true as const };
    return { skipped: false as const, result: await work(client) };
  });
}
