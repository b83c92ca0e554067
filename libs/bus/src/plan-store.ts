import { createHash } from 'node:crypto';
import { planSchema, stateKeys, type Plan, type PlanRef } from '@caracal-rotation/contracts';
import { PermanentHandlerError } from './errors.js';
import type { RedisClient } from './redis.js';

/** Plans outlive their rotations long enough for the history to show them. */
const PLAN_TTL_SECONDS = 90 * 24 * 3600;
const CACHE_SIZE = 512;

export const planHash = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Plans, stored once and referenced from every event by id and hash: a
 * batch of thousands of zone rotations shares one plan instead of repeating
 * it in every event. The hash travels in signed events, so a plan changed in
 * Redis is refused.
 */
export class PlanStore {
  private readonly keys: ReturnType<typeof stateKeys>;
  private readonly cache = new Map<string, Plan>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = stateKeys(prefix);
  }

  /** Stores the plan under `id` (idempotent: the same plan gives the same reference). */
  async put(id: string, plan: Plan): Promise<PlanRef> {
    const text = JSON.stringify(plan);
    const ref = { id, hash: planHash(text) };
    await this.redis.set(this.keys.plan(id), text, 'EX', PLAN_TTL_SECONDS);
    this.remember(ref, plan);
    return ref;
  }

  /** The plan a reference names; a missing or altered plan is a refusal that retrying cannot fix. */
  async get(ref: PlanRef): Promise<Plan> {
    const cached = this.cache.get(`${ref.id}/${ref.hash}`);
    if (cached) return cached;
    const text = await this.redis.get(this.keys.plan(ref.id));
    if (text === null) throw new PermanentHandlerError('plan_missing', `plan ${ref.id} is not in Redis (expired or deleted)`);
    if (planHash(text) !== ref.hash) throw new PermanentHandlerError('plan_altered', `plan ${ref.id} does not match the hash its events were signed with`);
    const plan = planSchema.parse(JSON.parse(text));
    this.remember(ref, plan);
    return plan;
  }

  private remember(ref: PlanRef, plan: Plan): void {
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(`${ref.id}/${ref.hash}`, plan);
  }
}
