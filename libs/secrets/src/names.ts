import { SecretsError } from './errors.js';

/**
 * Secret file names as Caracal spells them: camelCase ASCII
 * (`streamsHmacKey`, `postgresPassword`). The rule doubles as path safety:
 * no separators, no dots (so `..`, temp files and `.history` are never secret
 * names), no leading digit.
 */
export const SECRET_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9]*$/;

/** Longest accepted name; far above Caracal's names, far below NAME_MAX. */
export const MAX_SECRET_NAME_LENGTH = 128;

/** Suffix of the file a holder reads through `<ENV>_PREVIOUS_FILE` during overlap. */
export const PREVIOUS_SUFFIX = 'Previous';

export function assertSecretName(name: string): void {
  // The offending name is not echoed: a caller that swapped (name, value)
  // would otherwise put the value into the message.
  if (typeof name !== 'string' || name.length === 0) {
    throw new SecretsError('invalid_name', 'secret name must be a non-empty string');
  }
  if (name.length > MAX_SECRET_NAME_LENGTH) {
    throw new SecretsError('invalid_name', `secret name is ${name.length} characters long; at most ${MAX_SECRET_NAME_LENGTH} are allowed`);
  }
  if (!SECRET_NAME_PATTERN.test(name)) {
    throw new SecretsError('invalid_name', `secret name must match ${SECRET_NAME_PATTERN.source} (a letter, then letters and digits)`);
  }
}

/** `streamsHmacKey` → `streamsHmacKeyPrevious`. */
export function previousName(name: string): string {
  assertSecretName(name);
  return `${name}${PREVIOUS_SUFFIX}`;
}
