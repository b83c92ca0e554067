import { stat } from 'node:fs/promises';
import { SecretsError, type SecretStore } from '@caracal-rotation/secrets';
import type { RejectionCode } from '@caracal-rotation/contracts';
import { fileNameFor } from './build-plan.js';
import type { AcceptedRequest } from './validate-request.js';

export interface StoreProblem {
  code: RejectionCode;
  message: string;
}

/**
 * Refuses, before anything is locked, a rotation the secret-writer could not
 * carry out safely. Only metadata is looked at: the planner never reads a
 * secret value.
 */
export async function checkStore(store: SecretStore, request: AcceptedRequest): Promise<StoreProblem | undefined> {
  const { entry } = request;
  if (entry.writer === 'sts-zone-key') return undefined;
  try {
    await store.assertSafe();
  } catch (err) {
    if (err instanceof SecretsError) return { code: 'unsafe_store', message: err.message };
    throw err;
  }
  if (!entry.file) return undefined;
  const path = store.pathOf(fileNameFor(entry.file, request.role));
  const present = await stat(path).then(
    (s) => s.size > 0,
    () => false,
  );
  if (!present) {
    const hint =
      entry.material === 'ZONE_KEK'
        ? 'A lost key-encryption key is never regenerated: restore secretStoreKek from backup first.'
        : 'There is no current value to rotate; create it (caracal up) first.';
    return { code: 'material_missing', message: `${path} does not exist. ${hint}` };
  }
  return undefined;
}
