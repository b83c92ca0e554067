import type { MaterialRef, Phase, Plan } from './types.js';

export interface WriteContext {
  rotationId: string;
  plan: Plan;
}

export interface WriteOutcome {
  /** What holders now use: the new material, or after a rollback the restored one. */
  new: MaterialRef;
  previous?: { kid: string };
  /** False when the phase had nothing to change. */
  changed: boolean;
}

/**
 * One way of putting material where holders find it (catalog `writer`).
 * Every method is idempotent per rotation: a retry after a crash re-derives
 * the same values from the version history and ends in the same state.
 */
export interface MaterialWriter {
  write(phase: Phase, ctx: WriteContext): Promise<WriteOutcome>;
}
