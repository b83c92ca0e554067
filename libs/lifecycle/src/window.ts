import type { Phase, Plan } from '@caracal-rotation/contracts';
import { forwardPhases } from './steps.js';
import type { RotationState } from './states.js';

/** The end of the rollback window: the passing deploy verification plus the plan's safety window (zero for an emergency). */
export const retireAfter = (deployVerifiedAt: Date, plan: Plan): Date => new Date(deployVerifiedAt.getTime() + plan.safety_window_ms);

export type Verdict = { ok: true } | { ok: false; code: 'not_rollbackable' | 'not_abandonable'; why: string };

/** States from which an operator may ask for a rollback (the secret-writer still has the last word). */
const ROLLBACKABLE: ReadonlySet<RotationState> = new Set(['rolling', 'verifying', 'deploying', 'waiting_retirement']);

export function canRollback(plan: Plan, state: RotationState, window: { retireAfter?: Date; now: Date }): Verdict {
  if (plan.rollback.mode === 'none') return { ok: false, code: 'not_rollbackable', why: `${plan.material} cannot be rolled back: ${plan.rollback.why}` };
  if (!ROLLBACKABLE.has(state)) return { ok: false, code: 'not_rollbackable', why: `a rotation that is ${state} cannot be rolled back` };
  if (window.retireAfter && window.now > window.retireAfter) {
    return { ok: false, code: 'not_rollbackable', why: `the rollback window ended at ${window.retireAfter.toISOString()}` };
  }
  return { ok: true };
}

/**
 * The secret-writer's durable record of a rotation: which phases it applied
 * and whether the rotation ended. It is the one arbiter between steps that
 * race (an operator's rollback and a retirement), and what makes a replayed
 * entry harmless.
 */
export interface WriterRecord {
  applied: Phase[];
  /** A phase the writer claimed and is applying: it counts as begun for every other phase. */
  pending?: Phase;
  /** When the deploy verification passed: the rollback window is counted from it. */
  deployVerifiedAt?: string;
  closed?: 'retired' | 'rolled_back' | 'failed' | 'abandoned';
}

export type WriterVerdict = { apply: true } | { apply: false; repeat: true } | { apply: false; repeat: false; why: string };

/** Whether the secret-writer may apply `phase` now, given what it already did. */
export function writerMayApply(plan: Plan, record: WriterRecord | undefined, phase: Phase, now: Date): WriterVerdict {
  if (record?.applied.includes(phase)) return { apply: false, repeat: true };
  // A claimed phase is finished by whoever retries it; for any other phase it counts as begun.
  if (record?.pending === phase) return { apply: true };
  const applied = [...(record?.applied ?? []), ...(record?.pending ? [record.pending] : [])];
  if (record?.closed) return { apply: false, repeat: false, why: `the rotation ended (${record.closed}); ${phase} is refused` };
  const order = forwardPhases(plan);
  switch (phase) {
    case 'stage':
    case 'deploy': {
      const before = order.slice(0, order.indexOf(phase));
      if (applied.includes('rollback')) return { apply: false, repeat: false, why: `the rotation was rolled back; ${phase} is refused` };
      const missing = before.filter((p) => !applied.includes(p));
      return missing.length === 0 ? { apply: true } : { apply: false, repeat: false, why: `${phase} needs ${missing.join(', ')} first` };
    }
    case 'retire':
      if (applied.includes('rollback')) return { apply: false, repeat: false, why: 'the rotation was rolled back; retirement is refused' };
      if (!applied.includes('deploy')) return { apply: false, repeat: false, why: 'retirement needs a deploy first' };
      if (!record?.deployVerifiedAt) return { apply: false, repeat: false, why: 'retirement needs a passing deploy verification first' };
      return { apply: true };
    case 'rollback': {
      if (applied.includes('retire')) return { apply: false, repeat: false, why: 'retirement already began; a rollback is refused' };
      if (!applied.some((p) => p === 'stage' || p === 'deploy')) return { apply: false, repeat: false, why: 'nothing was written yet; abandon the rotation instead' };
      if (plan.rollback.mode === 'none') return { apply: false, repeat: false, why: plan.rollback.why };
      const deadline = record?.deployVerifiedAt ? retireAfter(new Date(record.deployVerifiedAt), plan) : undefined;
      if (deadline && now > deadline) return { apply: false, repeat: false, why: `the rollback window ended at ${deadline.toISOString()}` };
      return { apply: true };
    }
  }
}
