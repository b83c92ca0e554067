import { SecretsError, type SecretsErrorCode } from '../errors.js';

/**
 * A refusal or failure of the API server while the store reads or writes a
 * Secret. `transient` says whether trying again later can help (unreachable,
 * 5xx, every attempt lost to other writers), as opposed to a refusal that
 * needs an operator (401, 403, 404, a bad request).
 *
 * Like every error of this library it never carries a value: messages are
 * built from the verb, the Secret's name and the API server's reason, and the
 * API server's own message only where its shape is known to hold no data.
 */
export class KubernetesStoreError extends SecretsError {
  override readonly name: string = 'KubernetesStoreError';

  constructor(
    code: SecretsErrorCode,
    message: string,
    readonly status: number | undefined,
    readonly transient: boolean,
  ) {
    super(code, message);
  }
}
