import type { CatalogEntry, Phase, Plan } from '@caracal-rotation/contracts';
import type { PhaseOutcome, WriterState } from '../rotation-record.js';

export interface WriteContext {
  rotationId: string;
  plan: Plan;
  /** The writer's own catalog entry for the material: where things are is decided here, not by the event. */
  entry: CatalogEntry;
  zoneId?: string;
  /** The rotation's record: what earlier phases did (a writer may keep notes in it through `note`). */
  state: WriterState;
  /** Saves a note in the record before an effect that must not be repeated blindly. */
  note(update: Partial<WriterState>): Promise<void>;
}

/**
 * One way of putting material where Caracal reads it. Every phase is
 * repeatable: a retry after a crash re-derives the same values from the
 * version history and the record, and ends in the same state.
 */
export interface MaterialWriter {
  write(phase: Phase, ctx: WriteContext): Promise<PhaseOutcome>;
}

/** A refusal retrying cannot fix: the rotation ends on `failed` with this message. */
export class WriteRefused extends Error {
  constructor(
    message: string,
    readonly code = 'write_refused',
  ) {
    super(message);
    this.name = 'WriteRefused';
  }
}
