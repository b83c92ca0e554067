import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Keyring, MIN_KEY_BYTES, canonicalString, decodeHexKey, keyIdOf, signFields, signatureMatches, streamKeyFromHex, type StreamFields } from './index.js';

interface VectorCase {
  name: string;
  key_hex: string;
  kid: string;
  stream: string;
  fields: Record<string, string>;
  canonical: string;
  sig: string;
}

// The vectors are shared with every implementation of Caracal's stream signature.
const VECTORS_PATH = join(import.meta.dirname, '..', 'vectors', 'streamsig.json');
const vectors = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as { cases: VectorCase[] };

const KEY_HEX = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const OTHER_KEY_HEX = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

/** Changes one hex character at `index` to a different hex character. */
const flipHexChar = (hex: string, index: number): string => {
  const c = hex[index]!;
  const replacement = c === '0' ? '1' : '0';
  return hex.slice(0, index) + replacement + hex.slice(index + 1);
};

describe('shared stream-signature vectors', () => {
  it('has cases to check', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(3);
  });

  describe.each(vectors.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const key = decodeHexKey(c.key_hex);

    it('builds the canonical string byte for byte', () => {
      expect(canonicalString(c.stream, c.fields)).toBe(c.canonical);
    });

    it('derives the kid from the raw key bytes', () => {
      expect(keyIdOf(key)).toBe(c.kid);
      expect(streamKeyFromHex(c.key_hex).kid).toBe(c.kid);
    });

    it('computes the signature', () => {
      expect(signFields(c.stream, c.fields, key)).toBe(c.sig);
    });

    it('ignores a _sig field already present when signing', () => {
      expect(signFields(c.stream, { ...c.fields, _sig: c.sig }, key)).toBe(c.sig);
      expect(canonicalString(c.stream, { ...c.fields, _sig: c.sig })).toBe(c.canonical);
    });

    it('verifies the presented signature, with the keyring choosing the key by kid', () => {
      const fields: StreamFields = { ...c.fields, _sig: c.sig };
      expect(signatureMatches(c.stream, fields, key)).toBe(true);
      expect(Keyring.fromHex(OTHER_KEY_HEX === c.key_hex ? KEY_HEX : OTHER_KEY_HEX, c.key_hex).verify(c.stream, fields)).toEqual({ ok: true, kid: c.kid });
    });

    it('Keyring.sign reproduces the vector (kid set from the key)', () => {
      const { kid: _kid, ...withoutKid } = c.fields;
      expect(Keyring.fromHex(c.key_hex).sign(c.stream, withoutKid)).toEqual({ ...c.fields, kid: c.kid, _sig: c.sig });
    });

    it('rejects the signature on another stream name or with another key', () => {
      const fields: StreamFields = { ...c.fields, _sig: c.sig };
      expect(signatureMatches(`${c.stream}x`, fields, key)).toBe(false);
      const other = decodeHexKey(c.key_hex === OTHER_KEY_HEX ? KEY_HEX : OTHER_KEY_HEX);
      expect(signatureMatches(c.stream, fields, other)).toBe(false);
    });
  });
});

describe('decodeHexKey', () => {
  it('decodes clean hex of at least 32 bytes (either case)', () => {
    expect(decodeHexKey(KEY_HEX)).toEqual(Buffer.from(KEY_HEX, 'hex'));
    expect(decodeHexKey(KEY_HEX.toUpperCase())).toEqual(Buffer.from(KEY_HEX, 'hex'));
    expect(decodeHexKey('ab'.repeat(48)).length).toBe(48);
  });

  it('rejects an odd-length string', () => {
    expect(() => decodeHexKey(`${KEY_HEX}a`)).toThrow(/hex/);
    expect(() => decodeHexKey(KEY_HEX.slice(1))).toThrow(/hex/);
  });

  it('rejects non-hex characters anywhere, including where Buffer.from would silently stop', () => {
    expect(() => decodeHexKey(`${KEY_HEX.slice(0, 40)}zz${KEY_HEX.slice(42)}`)).toThrow(/hex/);
    expect(() => decodeHexKey(`${KEY_HEX}zz`)).toThrow(/hex/);
    expect(() => decodeHexKey(`0x${KEY_HEX}`)).toThrow(/hex/);
    expect(() => decodeHexKey(` ${KEY_HEX}`)).toThrow(/hex/);
    expect(() => decodeHexKey(`${KEY_HEX}\n`)).toThrow(/hex/);
    expect(() => decodeHexKey('')).toThrow(/hex/);
  });

  it('rejects keys shorter than 32 bytes, and honours a custom minimum', () => {
    expect(MIN_KEY_BYTES).toBe(32);
    expect(() => decodeHexKey(KEY_HEX.slice(0, 62))).toThrow(/31 bytes/);
    expect(() => decodeHexKey('abcd')).toThrow(/at least 32/);
    expect(decodeHexKey('abcd', 2)).toEqual(Buffer.from([0xab, 0xcd]));
    expect(() => decodeHexKey('abcd', 3)).toThrow(/at least 3/);
  });

  it('is what Keyring.fromHex uses, so a bad key never makes a keyring', () => {
    expect(() => Keyring.fromHex(KEY_HEX.slice(0, 62))).toThrow();
    expect(() => Keyring.fromHex(KEY_HEX, 'not-hex')).toThrow();
  });
});

describe('signatureMatches', () => {
  const stream = 'caracal.rotation.completed';
  const key = decodeHexKey(KEY_HEX);
  const base: StreamFields = { event_id: 'e1', type: 'rotation.completed', data: '{"a":1}', kid: keyIdOf(key) };
  const sig = signFields(stream, base, key);

  it('accepts the right signature', () => {
    expect(signatureMatches(stream, { ...base, _sig: sig }, key)).toBe(true);
  });

  it.each([0, 1, 31, 32, 63])('rejects a signature differing in one character (position %i)', (i) => {
    const bad = flipHexChar(sig, i);
    expect(bad).not.toBe(sig);
    expect(bad).toHaveLength(64);
    expect(signatureMatches(stream, { ...base, _sig: bad }, key)).toBe(false);
  });

  it('rejects a missing, truncated, over-long, uppercase or non-hex signature without throwing', () => {
    expect(signatureMatches(stream, base, key)).toBe(false);
    expect(signatureMatches(stream, { ...base, _sig: sig.slice(0, 62) }, key)).toBe(false);
    expect(signatureMatches(stream, { ...base, _sig: `${sig}00` }, key)).toBe(false);
    expect(signatureMatches(stream, { ...base, _sig: '' }, key)).toBe(false);
    expect(signatureMatches(stream, { ...base, _sig: `${sig.slice(0, 63)}g` }, key)).toBe(false);
    expect(sig).toMatch(/[a-f]/);
    expect(signatureMatches(stream, { ...base, _sig: sig.toUpperCase() }, key)).toBe(false);
  });

  it('rejects the signature when any one field value, name or the kid changes', () => {
    for (const name of Object.keys(base)) {
      expect(signatureMatches(stream, { ...base, [name]: `${base[name]}x`, _sig: sig }, key)).toBe(false);
    }
    expect(signatureMatches(stream, { ...base, extra: '', _sig: sig }, key)).toBe(false);
    const { data: _data, ...withoutData } = base;
    expect(signatureMatches(stream, { ...withoutData, _sig: sig }, key)).toBe(false);
  });
});

describe('canonicalString', () => {
  it('starts with the stream name and sorts fields by name, each as name=value\\n', () => {
    expect(canonicalString('s', { b: '2', a: '1', c: '' })).toBe('s\na=1\nb=2\nc=\n');
  });

  it('skips a null or undefined field value (but keeps an empty string)', () => {
    const withHoles = { a: '1', b: undefined, c: null, d: '' } as unknown as StreamFields;
    expect(canonicalString('s', withHoles)).toBe('s\na=1\nd=\n');
    const key = decodeHexKey(KEY_HEX);
    expect(signFields('s', withHoles, key)).toBe(signFields('s', { a: '1', d: '' }, key));
  });

  it('skips only _sig, not other underscore fields', () => {
    expect(canonicalString('s', { _sig: 'x', _other: 'y', a: '1' })).toBe('s\n_other=y\na=1\n');
  });
});

describe('Keyring', () => {
  const current = Keyring.fromHex(KEY_HEX);
  const withPrevious = Keyring.fromHex(OTHER_KEY_HEX, KEY_HEX);
  const stream = 'caracal.rotation.rejected';

  it('signs with the current key and sets kid, replacing any stale kid and _sig', () => {
    const signed = current.sign(stream, { a: '1', kid: 'stale', _sig: 'stale' });
    expect(signed.kid).toBe(keyIdOf(decodeHexKey(KEY_HEX)));
    expect(signed._sig).toBe(signFields(stream, { a: '1', kid: signed.kid! }, decodeHexKey(KEY_HEX)));
  });

  it('verifies with the previous key while it is in the keyring, and reports unknown_kid once it is not', () => {
    const signedByOld = current.sign(stream, { a: '1' });
    expect(withPrevious.kids).toEqual([keyIdOf(decodeHexKey(OTHER_KEY_HEX)), keyIdOf(decodeHexKey(KEY_HEX))]);
    expect(withPrevious.verify(stream, signedByOld)).toEqual({ ok: true, kid: signedByOld.kid });
    expect(Keyring.fromHex(OTHER_KEY_HEX).verify(stream, signedByOld)).toEqual({ ok: false, reason: 'unknown_kid', kid: signedByOld.kid });
  });

  it('reports invalid_signature for a known kid and a bad signature, unknown_kid for a missing kid', () => {
    const signed = current.sign(stream, { a: '1' });
    expect(current.verify(stream, { ...signed, a: '2' })).toEqual({ ok: false, reason: 'invalid_signature', kid: signed.kid });
    const { kid: _kid, ...noKid } = signed;
    expect(current.verify(stream, noKid)).toEqual({ ok: false, reason: 'unknown_kid', kid: undefined });
  });

  it('does not let a message name the previous kid while signed with the current key', () => {
    const signed = withPrevious.sign(stream, { a: '1' });
    const relabelled = { ...signed, kid: withPrevious.previous!.kid };
    expect(withPrevious.verify(stream, relabelled).ok).toBe(false);
  });
});
