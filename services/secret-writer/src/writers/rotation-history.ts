import type { Plan } from '@caracal-rotation/contracts';
import { SecretsError, type SecretStore } from '@caracal-rotation/secrets';
import { generateValue } from './generate-value.js';

const BEFORE = 'before';
const NEW = 'new';

/** The files of a secret as they were before a rotation: the secret itself and its companions (Previous, derived files). */
export interface Snapshot {
  primary: string;
  /** Companions that existed, by name; a companion absent here did not exist. */
  companions: Map<string, string>;
}

/**
 * What makes every writer repeatable: the version history keeps the files as
 * they were before the rotation and the rotation's new value, so a retried
 * phase re-derives the same values and a rollback restores exactly.
 */
export class RotationHistory {
  constructor(private readonly store: SecretStore) {}

  /**
   * Records the files once. Companions are recorded first and the primary
   * last, so a recorded primary proves the snapshot complete, and a companion
   * without a recorded version then was absent.
   */
  async snapshot(rotationId: string, primary: string, companions: readonly string[]): Promise<Snapshot> {
    const meta = { rotationId, phase: BEFORE };
    if (!(await this.store.findVersion(primary, meta))) {
      const current = await this.store.read(primary);
      if (!current) throw new SecretsError('secret_file_missing', `${this.store.location(primary)} has no current value to rotate`);
      for (const name of companions) {
        const value = await this.store.read(name);
        if (value) await this.store.recordVersion(name, value, meta);
      }
      await this.store.recordVersion(primary, current, meta);
    }
    const recorded = new Map<string, string>();
    for (const name of companions) {
      const value = await this.recorded(name, rotationId, BEFORE);
      if (value !== undefined) recorded.set(name, value);
    }
    return { primary: (await this.recorded(primary, rotationId, BEFORE))!, companions: recorded };
  }

  /** A value the rotation made (`new`, or a rollback's fresh one): generated once, then always read back from the history. */
  async newValue(rotationId: string, file: string, format: Plan['format'], step: string = NEW): Promise<string> {
    const existing = await this.recorded(file, rotationId, step);
    if (existing) return existing;
    try {
      await this.store.recordVersion(file, generateValue(format), { rotationId, phase: step });
    } catch (err) {
      // Another replica recorded its value first; use that one.
      if (!(err instanceof SecretsError && err.code === 'history_conflict')) throw err;
    }
    return (await this.recorded(file, rotationId, step))!;
  }

  /** Puts the files back exactly as the snapshot found them; a companion that did not exist is removed. */
  async restore(primary: string, companions: readonly string[], snapshot: Snapshot): Promise<void> {
    await this.store.write(primary, snapshot.primary);
    for (const name of companions) {
      const value = snapshot.companions.get(name);
      if (value !== undefined) await this.store.write(name, value);
      else await this.store.remove(name);
    }
  }

  private async recorded(file: string, rotationId: string, phase: string): Promise<string | undefined> {
    const version = await this.store.findVersion(file, { rotationId, phase });
    return version ? this.store.readVersion(file, version.kid) : undefined;
  }
}
