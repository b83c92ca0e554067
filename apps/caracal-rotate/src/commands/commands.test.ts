import { describe, expect, it } from 'vitest';
import { duration } from '../format.js';
import { requestDataFrom } from '../request-data.js';

describe('request selectors', () => {
  it('maps one zone to zone_id, several to zone_ids, and * to every zone', () => {
    expect(requestDataFrom('ZONE_SIGNING_KEY', { zone: ['z1'], reason: 'r' })).toMatchObject({ zone_id: 'z1' });
    expect(requestDataFrom('ZONE_SIGNING_KEY', { zone: ['z1', 'z2'], reason: 'r' })).toMatchObject({ zone_ids: ['z1', 'z2'] });
    expect(requestDataFrom('ZONE_SIGNING_KEY', { zone: ['*'], reason: 'r' })).toMatchObject({ zone_id: '*' });
    expect(() => requestDataFrom('ZONE_SIGNING_KEY', { zone: ['*', 'z1'], reason: 'r' })).toThrow(/give it alone/);
  });

  it('only sends the flags that were given', () => {
    const data = requestDataFrom('AUDIT_HMAC_KEY', { reason: 'r', 'dry-run': true });
    expect(data).toEqual({ material: 'AUDIT_HMAC_KEY', reason: 'r', dry_run: true });
  });
});

describe('durations', () => {
  it.each([
    [500, '0.5s'],
    [90_000, '1m30s'],
    [86_400_000, '1d'],
    [4_500_000, '1h15m'],
  ])('%d ms is %s', (ms, text) => expect(duration(ms)).toBe(text));
});
