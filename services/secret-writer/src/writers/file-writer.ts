import type { Phase } from '@caracal-rotation/contracts';
import { keyIdOf, type SecretStore } from '@caracal-rotation/secrets';
import type { PhaseOutcome } from '../rotation-record.js';
import type { MaterialWriter, WriteContext } from './material-writer.js';
import { RotationHistory } from './rotation-history.js';

/**
 * Writes file-backed material phase by phase (docs/architecture.md says what
 * each phase leaves in the store). The version history holds the state
 * before the rotation and every value the rotation made, which makes every
 * phase repeatable and the rollback exact.
 *
 * - dual overlap (the KEK, our bus key): `stage` puts the new value in the
 *   `Previous` file (holders accept it, still use the old one), `deploy`
 *   swaps (current new, previous old), `retire` leaves the previous file at
 *   rest (a copy of the current value, or absent).
 * - single value: `deploy` writes the new value; `retire` changes nothing.
 * - rollback: restore (dual after deploy: the old value is current again and
 *   the new one stays previous, so what was sealed under it still opens), or
 *   forward (a fresh value, where the holder revoked the old one).
 */
export class FileWriter implements MaterialWriter {
  private readonly history: RotationHistory;

  constructor(private readonly store: SecretStore) {
    this.history = new RotationHistory(store);
  }

  async write(phase: Phase, { rotationId, plan, state }: WriteContext): Promise<PhaseOutcome> {
    if (!plan.secret) throw new Error(`${plan.material} has no secret file in its plan`);
    const { file, previous_file: previousFile, previous_at_rest: atRest } = plan.secret;
    const companions = previousFile ? [previousFile] : [];
    const snapshot = await this.history.snapshot(rotationId, file, companions);
    const old = snapshot.primary;
    const next = await this.history.newValue(rotationId, file, plan.format, 'new');
    const location = this.store.location(file);
    const outcome = (current: string, previous: string, changed = true): PhaseOutcome => ({ new: { kid: keyIdOf(current), location }, previous: { kid: keyIdOf(previous) }, changed });
    const restPrevious = async (current: string) => {
      if (!previousFile) return;
      if (atRest === 'copy') await this.store.write(previousFile, current);
      else await this.store.remove(previousFile);
    };

    switch (phase) {
      case 'stage':
        await this.store.write(previousFile!, next);
        return outcome(next, old);
      case 'deploy':
        if (previousFile) await this.store.write(previousFile, old);
        await this.store.write(file, next);
        return outcome(next, old);
      case 'retire':
        if (!previousFile) return outcome(next, old, false);
        await restPrevious(next);
        return outcome(next, old);
      case 'rollback': {
        if (plan.rollback.mode === 'forward') {
          const fresh = await this.history.newValue(rotationId, file, plan.format, 'rollback');
          await this.store.write(file, fresh);
          return outcome(fresh, next);
        }
        if (previousFile && state.applied.includes('deploy')) {
          // Values sealed under the new key since the deploy must stay readable.
          await this.store.write(previousFile, next);
          await this.store.write(file, old);
        } else {
          await this.history.restore(file, companions, snapshot);
        }
        return outcome(old, next);
      }
    }
  }
}
