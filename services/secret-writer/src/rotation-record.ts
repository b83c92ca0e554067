import type { Phase } from '@caracal-rotation/contracts';
import type { WriterRecord } from '@caracal-rotation/lifecycle';
import { RecordConflictError, type JsonValue, type SecretStore, type StoredRotationRecord } from '@caracal-rotation/secrets';
import { TransientError } from '@caracal-rotation/bus';

/** What a phase wrote, so a repeat re-emits exactly the same `written`. */
export interface PhaseOutcome {
  new: { kid: string; location: string };
  previous?: { kid: string };
  changed: boolean;
}

/** The secret-writer's durable state of one rotation (never a secret value). */
export interface WriterState extends WriterRecord {
  outcomes: Partial<Record<Phase, PhaseOutcome>>;
  /** Zone keys: the kid that was active before the STS rotated, and the one it made. */
  zone?: { oldKid: string; newKid?: string };
}

export interface LoadedRecord {
  state: WriterState;
  revision: number;
}

const EMPTY: WriterState = { applied: [], outcomes: {} };

/**
 * The rotation records kept beside the version history: read, then changed
 * with compare-and-swap. A conflict means another replica moved the record
 * on: the step is retried (as a transient fault) and decided again.
 */
export class RotationRecords {
  constructor(private readonly store: SecretStore) {}

  async load(rotationId: string): Promise<LoadedRecord> {
    const stored: StoredRotationRecord | undefined = await this.store.readRecord(rotationId);
    return stored ? { state: stored.state as unknown as WriterState, revision: stored.revision } : { state: { ...EMPTY, outcomes: {} }, revision: 0 };
  }

  /** Writes the next revision; a concurrent change is a TransientError, so the step is decided again. */
  async save(rotationId: string, record: LoadedRecord, state: WriterState): Promise<LoadedRecord> {
    try {
      const stored = await this.store.writeRecord({ rotationId, state: state as unknown as { [key: string]: JsonValue } }, record.revision);
      return { state, revision: stored.revision };
    } catch (err) {
      if (err instanceof RecordConflictError) throw new TransientError(err.message, { cause: err });
      throw err;
    }
  }
}
