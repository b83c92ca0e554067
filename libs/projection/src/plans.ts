import type { Plan, PlanRef } from '@caracal-rotation/contracts';
import type { Database } from './transaction.js';

export interface StoredPlan {
  ref: PlanRef;
  plan: Plan;
}

/** The hashes of the plans the projection already holds, by id. */
export async function knownPlanHashes(db: Database, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ plan_id: string; hash: string }>('SELECT plan_id, hash FROM rotation_plans WHERE plan_id = ANY ($1::uuid[])', [ids]);
  return new Map(rows.map((r) => [r.plan_id, r.hash]));
}

/**
 * Stores each plan once (a batch of thousands of zone rotations shares one).
 * A plan id already stored keeps its first plan: plans never change.
 */
export async function storePlans(db: Database, plans: readonly StoredPlan[]): Promise<void> {
  if (plans.length === 0) return;
  await db.query(
    `INSERT INTO rotation_plans (plan_id, hash, material, plan)
     SELECT p.plan_id, p.hash, p.material, p.plan::jsonb
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS p(plan_id, hash, material, plan)
     ON CONFLICT (plan_id) DO NOTHING`,
    [plans.map((p) => p.ref.id), plans.map((p) => p.ref.hash), plans.map((p) => p.plan.material), plans.map((p) => JSON.stringify(p.plan))],
  );
}

/** Stored plans by id. */
export async function plansById(db: Database, ids: readonly string[]): Promise<Map<string, StoredPlan>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ plan_id: string; hash: string; plan: Plan }>('SELECT plan_id, hash, plan FROM rotation_plans WHERE plan_id = ANY ($1::uuid[])', [
    [...new Set(ids)],
  ]);
  return new Map(rows.map((r) => [r.plan_id, { ref: { id: r.plan_id, hash: r.hash }, plan: r.plan }]));
}
