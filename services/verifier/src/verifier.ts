import { subscribe, type OutgoingEvent, type RedisClient } from '@caracal-rotation/bus';
import {
  caracalStreams,
  stageEventId,
  type CompletedData,
  type FailedData,
  type HoldersConfig,
  type RolledData,
  type RotationEvent,
  type VerifiedData,
} from '@caracal-rotation/contracts';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import { CHECKS, type CheckRegistry } from './checks/index.js';
import { diagnose } from './diagnose.js';
import type { MaterialReader } from './material-reader.js';
import { runChecks } from './run-checks.js';
import { withSharedBaseline } from './checks/shared-baseline.js';

export interface VerifierDeps {
  runtime: ServiceRuntime;
  holders: HoldersConfig;
  material: MaterialReader;
  checkRedis: RedisClient;
  timeoutMs: number;
  pollMs: number;
  registry?: CheckRegistry;
  baselineShareMs?: number;
}

/**
 * The verifier stage: `rolled` → the plan's checks for the phase → `verified`,
 * and the rotation's end: `completed` after a passing retirement, `failed`
 * after a failed retirement or any rollback.
 */
export function createVerifier({ runtime, holders, material, checkRedis, timeoutMs, pollMs, registry: base = CHECKS, baselineShareMs = 2000 }: VerifierDeps) {
  const { streams, metrics, logger } = runtime;
  const registry = withSharedBaseline(base, baselineShareMs);
  const caracal = caracalStreams(holders.caracal_namespace);

  async function onRolled(e: RotationEvent<RolledData>): Promise<OutgoingEvent[]> {
    const { phase, plan, holders: rolled } = e.data;
    const timer = metrics.stageDuration.startTimer({ stage: 'verifier', phase });
    const checks = await runChecks(plan.checks[phase === 'stage' ? 'stage' : phase], registry, {
      rotationId: e.rotationId,
      phase,
      plan,
      rolled,
      currentKid: e.data.new.kid,
      otherKid: e.data.previous?.kid,
      holders,
      caracal,
      redis: checkRedis,
      material,
      streamPrefix: streams.prefix,
      timeoutMs,
      pollMs,
    });
    const ok = checks.every((c) => c.ok);
    const diagnosis = diagnose(checks);
    timer({ outcome: ok ? 'ok' : 'error' });
    logger.info({ rotation_id: e.rotationId, material: plan.material, phase, ok, failed: checks.filter((c) => !c.ok).map((c) => c.name) }, 'verified');

    const { material: name, zone_id, role, batch_id } = e.data;
    const subject = { material: name, zone_id, role, batch_id };
    const verified: VerifiedData = { phase, ...subject, plan, new: e.data.new, previous: e.data.previous, ok, checks, diagnosis };
    const out: OutgoingEvent[] = [{ stream: streams.verified, name: 'verified', eventId: stageEventId(e.rotationId, 'verifier', phase), rotationId: e.rotationId, data: verified }];

    const fail = (error: string, rolledBack: boolean): OutgoingEvent => ({
      stream: streams.failed,
      name: 'failed',
      eventId: stageEventId(e.rotationId, 'verifier', `${phase}-failed`),
      rotationId: e.rotationId,
      data: { ...subject, stage: 'verifier', phase, error, rolled_back: rolledBack, diagnosis } satisfies FailedData,
    });
    if (phase === 'retire' && ok) {
      const completed: CompletedData = { ...subject, new_kid: e.data.new.kid, previous_kid: e.data.previous?.kid ?? null, completed_at: new Date().toISOString() };
      out.push({ stream: streams.completed, name: 'completed', eventId: stageEventId(e.rotationId, 'verifier', 'completed'), rotationId: e.rotationId, data: completed });
    } else if (phase === 'retire') {
      out.push(fail('retirement verification failed: the old material may still be accepted', false));
    } else if (phase === 'rollback') {
      out.push(fail(ok ? 'deploy verification failed; the old material was restored and verified' : 'deploy verification failed and the rollback did not verify: a human is needed', ok));
    }
    return out;
  }

  return [subscribe<RolledData>({ stream: streams.rolled, event: 'rolled', handle: onRolled })];
}
