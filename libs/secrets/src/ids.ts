import { createHash } from 'node:crypto';
import { assertHexKey, isCleanHex } from './hex.js';

/**
 * Identifiers that may be logged, put into events and stored in Postgres in
 * place of a secret. Both are truncated SHA-256 digests: enough to tell
 * versions apart, useless for recovering the value.
 */

/**
 * Key id of a key used as raw bytes (HMAC keys, the KEK): the first 16 hex
 * characters of SHA-256 over the hex-decoded bytes. This is the `kid` of the
 * wire envelope (docs/architecture.md §3), so it must hash the bytes the HMAC is keyed
 * with, not the hex text: `AB..` and `ab..` are the same key and get one id.
 */
export function keyIdOf(hexValue: string): string {
  const key = assertHexKey(hexValue, { minBytes: 1, label: 'key' });
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * Fingerprint of a secret used as text (passwords, bearer tokens): `sha256:`
 * plus the first 16 hex characters of SHA-256 over the UTF-8 text. Services
 * compare these values as strings, so the text is what identifies them; the
 * prefix keeps a fingerprint from being mistaken for a key id.
 */
export function fingerprintOf(value: string): string {
  return `sha256:${createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 16)}`;
}

/**
 * The id the store reports for a value it holds: the key id when the value is
 * clean hex (every Caracal key, token and password is), else the fingerprint
 * (derived files such as `databaseUrl`).
 */
export function secretIdOf(value: string): string {
  return isCleanHex(value) ? keyIdOf(value) : fingerprintOf(value);
}
