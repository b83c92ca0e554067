import { randomBytes } from 'node:crypto';
import { SecretsError } from './errors.js';
import { isWeakKek } from './weak-kek.js';

/** Sizes Caracal generates (packages/engine/src/secrets.ts): keys and tokens 32 bytes, passwords 24. */
export const KEY_BYTES = 32;
export const PASSWORD_BYTES = 24;
export const KEK_BYTES = 32;

/** Fresh key material: lowercase hex of `bytes` random bytes, as Caracal writes it. */
export function generateKeyHex(bytes: number = KEY_BYTES): string {
  return randomHex(bytes);
}

/**
 * A password as Caracal generates one: hex, so it needs no quoting in
 * connection URLs (`postgres://user:<pw>@…`, `redis://:<pw>@…`).
 */
export function generatePasswordHex(bytes: number = PASSWORD_BYTES): string {
  return randomHex(bytes);
}

/**
 * A 32-byte KEK that Caracal will accept. A weak draw is astronomically
 * unlikely, but Caracal would refuse to start with one, so draw again.
 */
export function generateKekHex(): string {
  for (;;) {
    const hex = randomHex(KEK_BYTES);
    if (!isWeakKek(hex)) return hex;
  }
}

function randomHex(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 1024) {
    throw new SecretsError('invalid_argument', `byte count must be an integer from 1 to 1024; got ${String(bytes)}`);
  }
  return randomBytes(bytes).toString('hex');
}
