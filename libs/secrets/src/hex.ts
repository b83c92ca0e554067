import { SecretsError } from './errors.js';

export interface HexKeyRules {
  /** Smallest accepted key, in bytes. */
  minBytes: number;
  /** When set, the key must have exactly this many bytes (the KEK: 32). */
  exactBytes?: number;
  /** What the key is, for the message (`STREAMS_HMAC_KEY`); never the value. */
  label: string;
}

const HEX_DIGIT = /[0-9a-fA-F]/;

/** True when `value` is non-empty, even-length hex with nothing else in it. */
export function isCleanHex(value: string): boolean {
  return typeof value === 'string' && value.length > 0 && value.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(value);
}

/**
 * Validates a hex-encoded key and returns its bytes.
 *
 * Strict because Node's `Buffer.from(hex, 'hex')` stops silently at the first
 * bad character or drops an odd last digit: a typo would become a shorter,
 * weaker key that every service happily loads. Messages name the label and
 * the problem (lengths, the position of a bad character), never the value or
 * any character of it.
 */
export function assertHexKey(hex: string, rules: HexKeyRules): Buffer {
  const { minBytes, exactBytes, label } = rules;
  if (typeof hex !== 'string') {
    throw new SecretsError('invalid_hex', `${label}: must be a hex string`);
  }
  if (hex.length === 0) {
    throw new SecretsError('invalid_hex', `${label}: is empty`);
  }
  for (let i = 0; i < hex.length; i++) {
    if (!HEX_DIGIT.test(hex.charAt(i))) {
      throw new SecretsError('invalid_hex', `${label}: contains a non-hex character at position ${i}; only 0-9, a-f, A-F are allowed`);
    }
  }
  if (hex.length % 2 !== 0) {
    throw new SecretsError('invalid_hex', `${label}: has an odd number of hex digits (${hex.length}); each byte needs two`);
  }
  const bytes = hex.length / 2;
  if (exactBytes !== undefined && bytes !== exactBytes) {
    throw new SecretsError('invalid_hex', `${label}: must be exactly ${exactBytes} bytes (${exactBytes * 2} hex digits); got ${bytes} bytes`);
  }
  if (bytes < minBytes) {
    throw new SecretsError('invalid_hex', `${label}: must be at least ${minBytes} bytes (${minBytes * 2} hex digits); got ${bytes} bytes`);
  }
  return Buffer.from(hex, 'hex');
}
