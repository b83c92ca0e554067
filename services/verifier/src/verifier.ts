import { subscribe, type OutgoingEvent, type SignedEvent } from '@caracal-rotation/bus';
import { caracalStreams, stageEventId, type CheckName, type CompletedData, type FailedData, type HoldersConfig, type Phase, type Plan, type RolledData, type VerifiedData, type WrittenData } from '@caracal-rotation/contracts';
import { actionOf, lifecycleEvent, verificationOutcome } from '@caracal-rotation/lifecycle';
import { noReplayGuard, type ReplayGuard } from '@caracal-rotation/projection';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import type { CheckRegistry } from './checks/context.js';
import { CHECKS, LONG_CHECKS } from './checks/registry.js';
import { diagnose } from './diagnose.js';
import type { MaterialValues } from './material-values.js';
import { runChecks } from './run-checks.js';
import { SharedBaseline } from './shared-baseline.js';

export interface VerifierDeps {
  runtime: Pick<ServiceRuntime, 'streams' | 'plans' | 'metrics' | 'logger' | 'caracalRedis' | 'redis'>;
  holders: HoldersConfig;
  material: MaterialValues;
  /** Publishes `completed` on Caracal's Redis with Caracal's key (announcer.ts). */
  announce: (event: OutgoingEvent) => Promise<void>;
  checkTimeoutMs: number;
  longCheckTimeoutMs: number;
  pollMs: number;
  zoneConcurrency: number;
  /** How long one baseline run serves the other zones of its batch in the same phase; 0 runs it for every zone. */
  baselineShareMs?: number;
  /** Refuses events the rotation has moved past (replays); none by default. */
  replays?: ReplayGuard;
  /** Tests replace checks; production runs CHECKS. */
  checks?: CheckRegistry;
}

type StageInput = WrittenData | RolledData;

/**
 * The verifier stage: a `written` or `rolled` whose phase the lifecycle
 * gives the verifier → the phase's checks, in order → `verified`, and what
 * the outcome means: `failed` when the rotation ends failed, `completed`
 * (Caracal's key, Caracal's Redis) when a retirement verified.
 */
export function createVerifier(deps: VerifierDeps) {
  const { streams, plans, metrics, logger } = deps.runtime;
  const checks = deps.checks ?? CHECKS;
  const replays = deps.replays ?? noReplayGuard;
  const baseline = new SharedBaseline(deps.baselineShareMs ?? 0);
  const caracal = caracalStreams(deps.holders.caracal.namespace);
  const bounds = { boundOf: (name: CheckName) => (LONG_CHECKS.has(name) ? deps.longCheckTimeoutMs : deps.checkTimeoutMs) };

  function outcomeEvents(e: SignedEvent<StageInput>, plan: Plan, phase: Phase, verified: VerifiedData): { bus: OutgoingEvent[]; completed?: OutgoingEvent } {
    const { material, zone_id, role, batch_id } = e.data;
    const bus: OutgoingEvent[] = [{ stream: streams.verified, name: 'verified', eventId: stageEventId(e.rotationId, 'verifier', phase), rotationId: e.rotationId, data: verified }];
    const outcome = verificationOutcome(plan, phase, verified.ok);
    if (outcome.ends === 'failed') {
      const data: FailedData = { material, zone_id, role, batch_id, stage: 'verifier', phase, error: failureText(plan, phase, verified), rolled_back: outcome.rolledBack, diagnosis: verified.diagnosis };
      bus.push({ stream: streams.failed, name: 'failed', eventId: stageEventId(e.rotationId, 'verifier', `${phase}-failed`), rotationId: e.rotationId, data });
    }
    if (outcome.ends !== 'completed') return { bus };
    const data: CompletedData = { material, zone_id, batch_id, new_kid: e.data.new?.kid ?? 'unknown', previous_kid: e.data.previous?.kid ?? null, completed_at: new Date().toISOString() };
    return { bus, completed: { stream: streams.completed, name: 'completed', eventId: stageEventId(e.rotationId, 'verifier', 'completed'), rotationId: e.rotationId, data } };
  }

  async function onStageEvent(e: SignedEvent<StageInput>, name: 'written' | 'rolled'): Promise<OutgoingEvent[]> {
    const plan = await plans.get(e.data.plan);
    const event = lifecycleEvent(name, e.data);
    const action = actionOf('verifier', event, plan);
    if (!action) return [];
    if (await replays.superseded(e.rotationId, event, plan)) {
      logger.warn({ rotation_id: e.rotationId, event_id: e.eventId, event: name, phase: action.phase }, 'the rotation has moved past this event (a replay): not verified again');
      return [];
    }
    const { phase } = action;
    const timer = metrics.stageDuration.startTimer({ stage: 'verifier', phase });
    const context = (deadline: number, signal: AbortSignal) => ({
      rotationId: e.rotationId,
      phase,
      plan,
      zoneId: e.data.zone_id ?? plan.zone_id,
      newKid: e.data.new?.kid,
      previousKid: e.data.previous?.kid,
      rolled: name === 'rolled' ? (e.data as RolledData).holders : undefined,
      holders: deps.holders,
      caracal,
      caracalRedis: deps.runtime.caracalRedis,
      busRedis: deps.runtime.redis,
      streamPrefix: streams.prefix,
      material: deps.material,
      deadline,
      signal,
      pollMs: deps.pollMs,
      zoneConcurrency: deps.zoneConcurrency,
    });
    const results = await baseline.check(action.checks, { batchId: e.data.batch_id, phase }, (names) => runChecks(names, checks, bounds, context));
    const ok = results.every((r) => r.ok);
    timer({ outcome: ok ? 'ok' : 'error' });
    const { material, zone_id, role, batch_id, plan: ref } = e.data;
    const verified: VerifiedData = { phase, material, zone_id, role, batch_id, plan: ref, ok, checks: results, diagnosis: diagnose(results) };
    logger.info({ rotation_id: e.rotationId, material, zone_id, phase, ok, failed: results.filter((r) => !r.ok).map((r) => r.name) }, 'verified');
    const { bus, completed } = outcomeEvents(e, plan, phase, verified);
    // Announced before `verified` is published: a crash in between re-runs the
    // verification, and the announcement repeats with the same event id.
    if (completed) await deps.announce(completed);
    return bus;
  }

  return [
    subscribe<WrittenData>({ stream: streams.written, event: 'written', signers: ['bus'], handle: (e) => onStageEvent(e, 'written') }),
    subscribe<RolledData>({ stream: streams.rolled, event: 'rolled', signers: ['bus'], handle: (e) => onStageEvent(e, 'rolled') }),
  ];
}

function failureText(plan: Plan, phase: Phase, verified: VerifiedData): string {
  const failed = verified.checks.filter((c) => !c.ok).map((c) => c.name).join(', ');
  if (phase === 'rollback') return verified.ok ? `${plan.material} was rolled back and the rollback verified` : `the rollback of ${plan.material} did not verify (${failed}): a human is needed`;
  if (phase === 'retire') return `the retirement of ${plan.material} did not verify (${failed})`;
  return `the ${phase} verification of ${plan.material} failed (${failed}) and it cannot be rolled back: ${plan.rollback.why}`;
}
