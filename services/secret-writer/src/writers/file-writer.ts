import { keyIdOf, type SecretStore } from '@caracal-rotation/secrets';
import type { MaterialWriter, WriteContext, WriteOutcome } from './material-writer.js';
import { RotationHistory } from './rotation-history.js';
import type { Phase } from './types.js';

/**
 * Writes file-backed material (DESIGN §4) phase by phase; see docs/pipeline.md
 * for what each phase leaves on disk. The version history holds the state
 * before the rotation and the new value, which makes every phase repeatable
 * and the rollback exact.
 */
export class FileWriter implements MaterialWriter {
  private readonly history: RotationHistory;

  constructor(private readonly store: SecretStore) {
    this.history = new RotationHistory(store);
  }

  async write(phase: Phase, { rotationId, plan }: WriteContext): Promise<WriteOutcome> {
    if (!plan.secret) throw new Error(`${plan.material} has no secret file in its plan`);
    const { file, previous_file: previousFile } = plan.secret;
    const snapshot = await this.history.snapshot(rotationId, file, [previousFile]);
    const before = { current: snapshot.primary, previous: snapshot.companions.get(previousFile) };
    const next = await this.history.newValue(rotationId, file, plan.format);
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
        await this.history.restore(file, [previousFile], snapshot);
        return { new: { kid: keyIdOf(before.current), location }, previous: { kid: keyIdOf(next) }, changed: true };
    }
    return { new: { kid: keyIdOf(next), location }, previous: { kid: keyIdOf(before.current) }, changed: true };
  }
}
