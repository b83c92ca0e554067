import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Material } from './member/material.js';

const hex = (bytes = 32) => randomBytes(bytes).toString('hex');

describe('member material', () => {
  it('loads current and previous values and reports their kids', () => {
    const m = Material.load(['STREAMS_HMAC_KEY'], { STREAMS_HMAC_KEY: hex(), STREAMS_HMAC_KEY_PREVIOUS: hex() }, true, {});
    expect(m.ok).toBe(true);
    expect(m.accepted('STREAMS_HMAC_KEY')).toHaveLength(2);
    expect(Object.keys(m.kids().previous)).toEqual(['STREAMS_HMAC_KEY']);
  });

  it('ignores previous values when overlap is not accepted', () => {
    const m = Material.load(['STREAMS_HMAC_KEY'], { STREAMS_HMAC_KEY: hex(), STREAMS_HMAC_KEY_PREVIOUS: hex() }, false, {});
    expect(m.accepted('STREAMS_HMAC_KEY')).toHaveLength(1);
  });

  it('reports missing, short and weak material without the values', () => {
    const short = hex(16);
    const m = Material.load(['STREAMS_HMAC_KEY', 'AUDIT_HMAC_KEY', 'SECRET_STORE_KEK'], { STREAMS_HMAC_KEY: short, SECRET_STORE_KEK: '00'.repeat(32) }, true, {});
    expect(m.ok).toBe(false);
    expect(m.problems).toHaveLength(3);
    expect(m.problems.join(' ')).not.toContain(short);
    expect(m.problems.join(' ')).toContain('AUDIT_HMAC_KEY is not set');
  });

  it('accepts ZONE_KEK as the name of the key-encryption key', () => {
    const m = Material.load(['SECRET_STORE_KEK'], { ZONE_KEK: hex() }, true, {});
    expect(m.ok).toBe(true);
  });
});
