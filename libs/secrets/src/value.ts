import { SecretsError } from './errors.js';

/**
 * Rules for a value written to the store. Caracal trims trailing whitespace
 * when it reads a `*_FILE` and treats an empty file as fatal, so a value with
 * trailing whitespace would be seen by holders as a different secret than the
 * one we fingerprinted, and an empty one would stop the fleet. Refuse both at
 * write time instead.
 */
export function assertStorableValue(value: string, label: string): void {
  if (typeof value !== 'string') {
    throw new SecretsError('invalid_value', `${label}: value must be a string`);
  }
  if (value.length === 0) {
    throw new SecretsError('invalid_value', `${label}: value must not be empty`);
  }
  if (/\s$/.test(value)) {
    throw new SecretsError('invalid_value', `${label}: value must not end in whitespace or a newline (Caracal trims it when reading)`);
  }
}
