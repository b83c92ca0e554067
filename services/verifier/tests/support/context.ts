import type { RedisClient } from '@caracal-rotation/bus';
import { DEFAULT_CATALOG, type Phase, type Plan } from '@caracal-rotation/contracts';
import { buildPlan, validateRequest } from '@caracal-rotation/planning';
import { FileSecretStore } from '@caracal-rotation/secrets';
import type { CheckContext } from '../../src/checks/context.js';
import { MaterialValues } from '../../src/material-values.js';
import type { Fleet } from './fleet.js';

/** A check's context on a fleet, for one phase of a plan; `bound` is the check's time. */
export function contextOn(fleet: Fleet, plan: Plan, over: Partial<CheckContext> & { bus?: RedisClient; rotationDir?: string; bound?: number } = {}): CheckContext {
  const bound = over.bound ?? 20_000;
  const { bus, rotationDir, ...rest } = over;
  return {
    rotationId: '01a232ad-0000-7000-8000-000000000000',
    phase: 'deploy' as Phase,
    plan,
    zoneId: plan.zone_id,
    newKid: undefined,
    previousKid: undefined,
    rolled: undefined,
    holders: fleet.holders,
    caracal: fleet.streams,
    caracalRedis: fleet.caracalRedis,
    busRedis: bus ?? fleet.caracalRedis,
    streamPrefix: 'caracal.rotation',
    material: new MaterialValues({ caracal: fleet.store, rotation: new FileSecretStore({ dir: rotationDir ?? fleet.sandbox.secrets_dir }) }),
    deadline: Date.now() + bound,
    signal: AbortSignal.timeout(bound),
    pollMs: 50,
    zoneConcurrency: 4,
    ...rest,
  };
}

/** The plan the planner makes for a request on this fleet (libs/planning over the built-in catalog). */
export function planFor(fleet: Fleet, request: Record<string, unknown>): Plan {
  const verdict = validateRequest({ reason: 'verifier test', ...request }, DEFAULT_CATALOG);
  if (!verdict.ok) throw new Error(`${verdict.code}: ${verdict.message}`);
  return buildPlan(verdict.request, { requestedAt: new Date().toISOString(), actor: 'test', streamPrefix: 'caracal.rotation', holders: fleet.holders });
}
