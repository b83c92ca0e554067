import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyIdOf } from '@caracal-rotation/secrets';
import { CSS1_MIN_BYTES, Css1Error, kekIdOf, kekKeyring, open, seal, sealedKekId } from './css1.js';

const kekA = randomBytes(32);
const kekB = randomBytes(32);

function openError(fn: () => unknown): Css1Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Css1Error) return err;
    throw err;
  }
  throw new Error('expected open to fail');
}

describe('CSS1 envelope', () => {
  it('round-trips a value, with the layout Caracal reads', () => {
    const sealed = seal(kekA, 'zone-secret', 'zone-1/db', 'hunter2');
    expect(sealed.subarray(0, 4).toString('latin1')).toBe('CSS1');
    expect(sealed.subarray(4, 12)).toEqual(createHash('sha256').update(kekA).digest().subarray(0, 8));
    // magic 4 + kekId 8 + nonce 12 + sealed DEK 48 + nonce 12 + value 7 + tag 16
    expect(sealed.length).toBe(4 + 8 + 12 + 48 + 12 + 7 + 16);
    expect(open(kekKeyring(kekA), 'zone-secret', 'zone-1/db', sealed).toString('utf8')).toBe('hunter2');
    expect(open(kekKeyring(kekA), 'p', 'r', seal(kekA, 'p', 'r', Buffer.alloc(0)))).toEqual(Buffer.alloc(0));
    expect(seal(kekA, 'p', 'r', 'x').equals(seal(kekA, 'p', 'r', 'x'))).toBe(false);
  });

  it('detects tampering anywhere, and a value moved to another purpose or ref', () => {
    const sealed = seal(kekA, 'zone-secret', 'ref-1', 'value');
    for (let at = 12; at < sealed.length; at++) {
      const tampered = Buffer.from(sealed);
      tampered[at] = (tampered[at] as number) ^ 0x01;
      expect(openError(() => open(kekKeyring(kekA), 'zone-secret', 'ref-1', tampered)).code).toBe('auth_failed');
    }
    expect(openError(() => open(kekKeyring(kekA), 'zone-secret', 'ref-2', sealed)).code).toBe('auth_failed');
    expect(openError(() => open(kekKeyring(kekA), 'other', 'ref-1', sealed)).code).toBe('auth_failed');
    expect(openError(() => open(kekKeyring(kekA), 'zone-secret', 'ref-1', sealed.subarray(0, CSS1_MIN_BYTES - 1))).code).toBe('malformed');
    expect(openError(() => open(kekKeyring(kekA), 'zone-secret', 'ref-1', Buffer.concat([Buffer.from('CSS2'), sealed.subarray(4)]))).code).toBe('malformed');
  });

  it('refuses a keyring without the KEK the envelope names, and a wrong KEK under a forged id', () => {
    const sealed = seal(kekA, 'p', 'r', 'v');
    const unknown = openError(() => open(kekKeyring(kekB), 'p', 'r', sealed));
    expect(unknown.code).toBe('unknown_kek');
    expect(unknown.message).toContain(kekIdOf(kekA));
    // The id names A, but the keyring maps that id to B: the DEK does not authenticate.
    const forged = { current: kekB, currentId: kekIdOf(kekB), byId: new Map([[kekIdOf(kekA), kekB]]) };
    expect(openError(() => open(forged, 'p', 'r', sealed)).code).toBe('auth_failed');
  });

  it('picks the KEK by kekId: current and previous both open, new seals use current', () => {
    const keyring = kekKeyring(kekB, kekA);
    expect(keyring.currentId).toBe(kekIdOf(kekB));
    expect([...keyring.byId.keys()]).toEqual([kekIdOf(kekB), kekIdOf(kekA)]);
    const underA = seal(kekA, 'p', 'r', 'old');
    const underB = seal(keyring.current, 'p', 'r', 'new');
    expect(sealedKekId(underA)).toBe(kekIdOf(kekA));
    expect(sealedKekId(underB)).toBe(kekIdOf(kekB));
    expect(open(keyring, 'p', 'r', underA).toString()).toBe('old');
    expect(open(keyring, 'p', 'r', underB).toString()).toBe('new');
  });

  it('uses the same id as the rest of the system gives the KEK file, and checks the KEK size', () => {
    expect(kekIdOf(kekA)).toBe(keyIdOf(kekA.toString('hex')));
    expect(() => kekIdOf(randomBytes(16))).toThrow(Css1Error);
  });
});
