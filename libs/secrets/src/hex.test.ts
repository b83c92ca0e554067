import { describe, expect, it } from 'vitest';
import { SecretsError, assertHexKey, isWeakKek } from './index.js';

const KEY = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';

function hexOf(bytes: number[]): string {
  return Buffer.from(bytes).toString('hex');
}

describe('assertHexKey', () => {
  it('returns the bytes of clean hex in either case', () => {
    expect(assertHexKey(KEY, { minBytes: 32, label: 'STREAMS_HMAC_KEY' })).toEqual(Buffer.from(KEY, 'hex'));
    expect(assertHexKey(KEY.toUpperCase(), { minBytes: 32, exactBytes: 32, label: 'ZONE_KEK' }).length).toBe(32);
  });

  it('rejects odd length (which Buffer.from would truncate)', () => {
    expect(() => assertHexKey(`${KEY}a`, { minBytes: 32, label: 'AUDIT_HMAC_KEY' })).toThrow(/AUDIT_HMAC_KEY: has an odd number of hex digits \(65\)/);
  });

  it('rejects non-hex characters with their position', () => {
    const bad = `${KEY.slice(0, 10)}g${KEY.slice(11)}`;
    expect(() => assertHexKey(bad, { minBytes: 32, label: 'AUDIT_HMAC_KEY' })).toThrow(/AUDIT_HMAC_KEY: contains a non-hex character at position 10/);
    expect(() => assertHexKey(` ${KEY.slice(1)}`, { minBytes: 32, label: 'K' })).toThrow(/position 0/);
    expect(() => assertHexKey(`${KEY}\n`, { minBytes: 32, label: 'K' })).toThrow(/position 64/);
  });

  it('rejects short keys and wrong exact sizes', () => {
    expect(() => assertHexKey(KEY.slice(0, 62), { minBytes: 32, label: 'STREAMS_HMAC_KEY' })).toThrow(/at least 32 bytes .* got 31 bytes/);
    expect(() => assertHexKey(`${KEY}00`, { minBytes: 32, exactBytes: 32, label: 'ZONE_KEK' })).toThrow(/exactly 32 bytes .* got 33 bytes/);
  });

  it('rejects empty input and non-strings', () => {
    expect(() => assertHexKey('', { minBytes: 1, label: 'K' })).toThrow(/K: is empty/);
    expect(() => assertHexKey(42 as unknown as string, { minBytes: 1, label: 'K' })).toThrow(SecretsError);
  });
});

describe('isWeakKek', () => {
  it('accepts a random-looking key', () => {
    expect(isWeakKek(KEY)).toBe(false);
  });

  it('detects all zeros and one repeated byte', () => {
    expect(isWeakKek('00'.repeat(32))).toBe(true);
    expect(isWeakKek('ab'.repeat(32))).toBe(true);
    expect(isWeakKek('FF'.repeat(32))).toBe(true);
  });

  it('detects ascending and descending sequences, with wrap-around', () => {
    expect(isWeakKek(hexOf(Array.from({ length: 32 }, (_, i) => i)))).toBe(true);
    expect(isWeakKek(hexOf(Array.from({ length: 32 }, (_, i) => (0xf0 + i) & 0xff)))).toBe(true);
    expect(isWeakKek(hexOf(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(true);
    expect(isWeakKek(hexOf(Array.from({ length: 32 }, (_, i) => (0x05 - i) & 0xff)))).toBe(true);
  });

  it('detects two alternating bytes', () => {
    expect(isWeakKek('00ff'.repeat(16))).toBe(true);
    expect(isWeakKek('a55a'.repeat(16))).toBe(true);
  });

  it('does not flag near misses', () => {
    const seq = Array.from({ length: 32 }, (_, i) => i);
    seq[31] = 0x99;
    expect(isWeakKek(hexOf(seq))).toBe(false);
    expect(isWeakKek(`${'00'.repeat(31)}01`)).toBe(false);
    expect(isWeakKek(`${'00ff'.repeat(15)}00fe`)).toBe(false);
  });

  it('refuses input that is not hex', () => {
    expect(() => isWeakKek('xyz1')).toThrow(/KEK: contains a non-hex character/);
  });
});
