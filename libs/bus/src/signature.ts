import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Caracal's stream signature (`SignStream` in Go, `signStream` in TS):
 * HMAC-SHA256 keyed with the hex-decoded STREAMS_HMAC_KEY over the stream
 * name and `\n`, then every field but `_sig`, sorted by name, as `name=value\n`.
 * Our events add a `kid` field, which the signature covers like any other.
 */
export const SIGNATURE_FIELD = '_sig';
export const KID_FIELD = 'kid';
export const MIN_KEY_BYTES = 32;

export type StreamFields = Record<string, string>;

export function canonicalString(stream: string, fields: StreamFields): string {
  let out = `${stream}\n`;
  // Sorting by UTF-16 code units matches Go's sort.Strings for the ASCII field
  // names Caracal uses; Caracal's TS mirror sorts the same way.
  for (const name of Object.keys(fields).sort()) {
    if (name === SIGNATURE_FIELD) continue;
    const value = fields[name];
    if (value === undefined || value === null) continue;
    out += `${name}=${value}\n`;
  }
  return out;
}

/**
 * Decodes a hex key strictly. Node's Buffer.from(hex) silently stops at the
 * first bad character, which would turn a typo into a shorter, weaker key.
 */
export function decodeHexKey(hex: string, minBytes = MIN_KEY_BYTES): Buffer {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) {
    throw new Error('stream key is not clean even-length hex');
  }
  const key = Buffer.from(hex, 'hex');
  if (key.length < minBytes) {
    throw new Error(`stream key has ${key.length} bytes; at least ${minBytes} are required`);
  }
  return key;
}

/** First 16 hex characters of SHA-256 over the raw key bytes. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export function signFields(stream: string, fields: StreamFields, key: Buffer): string {
  return createHmac('sha256', key).update(canonicalString(stream, fields), 'utf8').digest('hex');
}

/** Constant-time comparison of a presented signature with the expected one. */
export function signatureMatches(stream: string, fields: StreamFields, key: Buffer): boolean {
  const presented = fields[SIGNATURE_FIELD];
  if (typeof presented !== 'string' || !/^[0-9a-f]{64}$/.test(presented)) return false;
  const expected = Buffer.from(signFields(stream, fields, key), 'hex');
  return timingSafeEqual(expected, Buffer.from(presented, 'hex'));
}
