import { keyIdOf, SecretsError, type SecretStore } from '@caracal-rotation/secrets';
import { generateValue } from './generate-value.js';
import type { MaterialWriter, WriteContext, WriteOutcome } from './material-writer.js';
import type { Phase } from './types.js';

const BEFORE = 'before';
const NEW = 'new';

/**
 * Writes file-backed material (DESIGN §4) phase by phase; see docs/pipeline.md
 * for what each phase leaves on disk. The version history holds the state
 * before the rotation and the new value, which makes every phase repeatable
 * and the rollback exact.
 */
export class FileWriter implements MaterialWriter {
  constructor(private readonly store: SecretStore) {}

  async write(phase: Phase, { rotationId, plan }: WriteContext): Promise<WriteOutcome> {
    if (!plan.secret) throw new Error(`${plan.material} has no secret file in its plan`);
    const { file, previous_file: previousFile } = plan.secret;
    const before = await this.snapshot(rotationId, file, previousFile);
    const next = await this.newValue(rotationId, file, plan.format);
    const location = this.store.pathOf(file);
    const dual = plan.overlap === 'dual';

    switch (phase) {
      case 'stage':
        // Holders restarted now accept the new value but keep using the old one.
        await this.store.write(previousFile, next);
        break;
      case 'deploy':
        if (dual) await this.store.write(previousFile, before.current);
        await this.store.write(file, next);
        break;
      case 'retire':
        if (!dual) return { new: { kid: keyIdOf(next), location }, previous: { kid: keyIdOf(before.current) }, changed: false };
        await this.store.remove(previousFile);
        break;
      case 'rollback':
        await this.store.write(file, before.current);
        if (before.previous) await this.store.write(previousFile, before.previous);
        else await this.store.remove(previousFile);
        return { new: { kid: keyIdOf(before.current), location }, previous: { kid: keyIdOf(next) }, changed: true };
    }
    return { new: { kid: keyIdOf(next), location }, previous: { kid: keyIdOf(before.current) }, changed: true };
  }

  /**
   * Records the files as they were before the rotation, once. `Previous` is
   * recorded first, so a recorded current value proves the snapshot complete
   * and a missing `Previous` then means there was none.
   */
  private async snapshot(rotationId: string, file: string, previousFile: string): Promise<{ current: string; previous?: string }> {
    const meta = { rotationId, phase: BEFORE };
    const recorded = await this.store.findVersion(file, meta);
    if (!recorded) {
      const current = await this.store.read(file);
      if (!current) throw new SecretsError('secret_file_missing', `${this.store.pathOf(file)} has no current value to rotate`);
      const previous = await this.store.read(previousFile);
      if (previous) await this.store.recordVersion(previousFile, previous, meta);
      await this.store.recordVersion(file, current, meta);
    }
    const current = await this.readRecorded(file, rotationId, BEFORE);
    const previousVersion = await this.store.findVersion(previousFile, meta);
    const previous = previousVersion ? await this.store.readVersion(previousFile, previousVersion.kid) : undefined;
    return { current: current!, previous };
  }

  /** The rotation's new value: generated once, then always read back from the history. */
  private async newValue(rotationId: string, file: string, format: Parameters<typeof generateValue>[0]): Promise<string> {
    const existing = await this.readRecorded(file, rotationId, NEW);
    if (existing) return existing;
    try {
      await this.store.recordVersion(file, generateValue(format), { rotationId, phase: NEW });
    } catch (err) {
      // Another replica recorded its value first; use that one.
      if (!(err instanceof SecretsError && err.code === 'history_conflict')) throw err;
    }
    return (await this.readRecorded(file, rotationId, NEW))!;
  }

  private async readRecorded(file: string, rotationId: string, phase: string): Promise<string | undefined> {
    const version = await this.store.findVersion(file, { rotationId, phase });
    return version ? this.store.readVersion(file, version.kid) : undefined;
  }
}
