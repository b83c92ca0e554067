import type { CheckName, OrchestratorService, Phase, Plan } from '@caracal-rotation/contracts';
import type { LifecycleEvent } from './events.js';
import { forwardPhases, phaseAfter, rollsIn, stepsOf } from './steps.js';

/** What a stage does next because of an event. Each stage acts on its own actions only. */
export type Action =
  | { stage: 'planner'; do: 'plan' | 'authorize' | 'release' | 'mark_waiting' }
  | { stage: 'secret-writer'; do: 'write'; phase: Phase }
  | { stage: 'secret-writer'; do: 'note_deploy_verified' | 'close' }
  | { stage: 'roller'; do: 'roll'; phase: Phase; groups: string[][] }
  | { stage: 'verifier'; do: 'verify'; phase: Phase; checks: CheckName[] }
  | { stage: 'recorder'; do: 'schedule_retirement' };

const write = (phase: Phase): Action => ({ stage: 'secret-writer', do: 'write', phase });

/** The step after a phase's write: a roll where anything restarts, else straight to verification. */
function afterWrite(plan: Plan, phase: Phase): Action {
  const steps = stepsOf(plan, phase);
  return rollsIn(plan, phase) ? { stage: 'roller', do: 'roll', phase, groups: steps.roll.filter((g) => g.length > 0) } : { stage: 'verifier', do: 'verify', phase, checks: steps.checks };
}

/**
 * Who acts on an event, and how. This is the only place that decides what
 * follows what; the stages, the status page and the CLI ask it.
 */
export function actionsFor(event: LifecycleEvent, plan: Plan | undefined): Action[] {
  switch (event.name) {
    case 'requested':
      return [{ stage: 'planner', do: 'plan' }];
    case 'intent':
      return [{ stage: 'planner', do: 'authorize' }];
    case 'planned':
      return event.dryRun || event.batchParent || !plan ? [] : [write(forwardPhases(plan)[0]!)];
    case 'rollback':
      return [write('rollback')];
    case 'retiring':
      return [write('retire')];
    case 'written':
      return plan ? [afterWrite(plan, event.phase)] : [];
    case 'rolled':
      return plan ? [{ stage: 'verifier', do: 'verify', phase: event.phase, checks: stepsOf(plan, event.phase).checks }] : [];
    case 'verified': {
      if (!plan || event.phase === 'rollback') return [];
      if (event.phase === 'retire') return event.ok ? [{ stage: 'planner', do: 'release' }] : [];
      if (!event.ok) return plan.rollback.mode === 'none' ? [] : [write('rollback')];
      const following = phaseAfter(plan, event.phase);
      if (following) return [write(following)];
      return [
        { stage: 'recorder', do: 'schedule_retirement' },
        { stage: 'planner', do: 'mark_waiting' },
        { stage: 'secret-writer', do: 'note_deploy_verified' },
      ];
    }
    case 'failed':
      return [
        { stage: 'planner', do: 'release' },
        { stage: 'secret-writer', do: 'close' },
      ];
    case 'abandoned':
      return [{ stage: 'secret-writer', do: 'close' }];
    case 'queued':
    case 'rejected':
    case 'completed':
      return [];
  }
}

export type StageName = Action['stage'];
export const actionOf = <S extends StageName>(stage: S, event: LifecycleEvent, plan: Plan | undefined): Extract<Action, { stage: S }> | undefined =>
  actionsFor(event, plan).find((a): a is Extract<Action, { stage: S }> => a.stage === stage);

/** What a verification's result means for the rotation: whether it ends, and how. */
export function verificationOutcome(plan: Plan, phase: Phase, ok: boolean): { ends: 'completed' | 'failed' | undefined; rolledBack: boolean } {
  if (phase === 'rollback') return { ends: 'failed', rolledBack: ok };
  if (phase === 'retire') return { ends: ok ? 'completed' : 'failed', rolledBack: false };
  if (!ok && plan.rollback.mode === 'none') return { ends: 'failed', rolledBack: false };
  return { ends: undefined, rolledBack: false };
}

/** The services a holder name refers to when it is one of the orchestrator's own (ROTATION_BUS_KEY): they reload, they are not restarted. */
export const isOrchestratorHolder = (service: string): service is OrchestratorService =>
  ['planner', 'secret-writer', 'roller', 'verifier', 'recorder'].includes(service);
