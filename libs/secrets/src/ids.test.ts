import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprintOf, generateKekHex, generateKeyHex, generatePasswordHex, isWeakKek, keyIdOf, secretIdOf } from './index.js';

const VECTOR_KEY = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';

describe('keyIdOf', () => {
  it('matches the contract test vector', () => {
    expect(keyIdOf(VECTOR_KEY)).toBe('2f0ea5fb355bfdf5');
  });

  it('hashes the raw bytes, so hex case does not change the id', () => {
    expect(keyIdOf(VECTOR_KEY.toUpperCase())).toBe('2f0ea5fb355bfdf5');
  });

  it('refuses input that is not clean hex', () => {
    expect(() => keyIdOf('abc')).toThrow(/odd number/);
    expect(() => keyIdOf('zz')).toThrow(/non-hex/);
  });
});

describe('fingerprintOf', () => {
  it('is sha256: plus 16 hex of SHA-256 over the UTF-8 text', () => {
    const expected = createHash('sha256').update(VECTOR_KEY, 'utf8').digest('hex').slice(0, 16);
    expect(fingerprintOf(VECTOR_KEY)).toBe(`sha256:${expected}`);
  });

  it('differs from the key id of the same hex (text vs. bytes)', () => {
    expect(fingerprintOf(VECTOR_KEY)).not.toBe(`sha256:${keyIdOf(VECTOR_KEY)}`);
  });

  it('accepts any text', () => {
    expect(fingerprintOf('postgres://caracalapi:pw@postgres:5432/caracal')).toMatch(/^sha256:[0-9a-f]{16}$/);
  });
});

describe('secretIdOf', () => {
  it('uses the key id for hex and the fingerprint otherwise', () => {
    expect(secretIdOf(VECTOR_KEY)).toBe('2f0ea5fb355bfdf5');
    expect(secretIdOf('redis://:pw@redis:6379')).toBe(fingerprintOf('redis://:pw@redis:6379'));
  });
});

describe('generators', () => {
  it('produce lowercase hex of the requested size', () => {
    expect(generateKeyHex()).toMatch(/^[0-9a-f]{64}$/);
    expect(generateKeyHex(48)).toMatch(/^[0-9a-f]{96}$/);
    expect(generatePasswordHex()).toMatch(/^[0-9a-f]{48}$/);
    expect(generateKekHex()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('do not repeat', () => {
    const seen = new Set(Array.from({ length: 100 }, () => generateKeyHex()));
    expect(seen.size).toBe(100);
  });

  it('never hand out a weak KEK', () => {
    for (let i = 0; i < 50; i++) expect(isWeakKek(generateKekHex())).toBe(false);
  });

  it('refuse nonsense sizes', () => {
    expect(() => generateKeyHex(0)).toThrow(/byte count/);
    expect(() => generatePasswordHex(1.5)).toThrow(/byte count/);
  });
});
