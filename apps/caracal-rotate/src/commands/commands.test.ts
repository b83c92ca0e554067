import type { RotationRecord } from '@caracal-rotation/projection';
import { describe, expect, it } from 'vitest';
import { duration } from '../format.js';
import { requestDataFrom } from '../request-data.js';
import { rollbackRefusal } from './rollback.js';

const row = (over: Partial<RotationRecord>): RotationRecord =>
  ({ rotationId: '01936d3e-8f1a-7c2b-9a4d-0e5f6a7b8c9d', state: 'waiting_retirement', retireAfter: null, dryRun: false, rolledBack: false, ...over }) as RotationRecord;

describe('request selectors', () => {
  it('maps one zone to zone_id, several to zone_ids, and * to every zone', () => {
    expect(requestDataFrom('ZONE_SIGNING_KEY', { zone: ['z1'], reason: 'r', actor: 'a' })).toMatchObject({ zone_id: 'z1' });
    expect(requestDataFrom('ZONE_SIGNING_KEY', { zone: ['z1', 'z2'], reason: 'r', actor: 'a' })).toMatchObject({ zone_ids: ['z1', 'z2'] });
    expect(requestDataFrom('ZONE_SIGNING_KEY', { zone: ['*'], reason: 'r', actor: 'a' })).toMatchObject({ zone_id: '*' });
    expect(() => requestDataFrom('ZONE_SIGNING_KEY', { zone: ['*', 'z1'], reason: 'r' })).toThrow(/give it alone/);
  });

  it('only sends the flags that were given', () => {
    const data = requestDataFrom('AUDIT_HMAC_KEY', { reason: 'r', actor: 'a', 'dry-run': true });
    expect(data).toEqual({ material: 'AUDIT_HMAC_KEY', reason: 'r', actor: 'a', dry_run: true });
  });
});

describe('rollback window', () => {
  const now = Date.parse('2026-11-28T10:00:00.000Z');
  it('allows a rollback only while waiting for retirement inside the window', () => {
    expect(rollbackRefusal(row({ retireAfter: '2026-11-28T10:05:00.000Z' }), now)).toBeUndefined();
  });
  it('says when the window ended', () => {
    expect(rollbackRefusal(row({ state: 'completed', retireAfter: '2026-11-28T09:00:00.000Z' }), now)).toBe(
      'the rollback window ended at 2026-11-28T09:00:00.000Z; the old material was retired',
    );
  });
  it('says what state the rotation is in otherwise', () => {
    expect(rollbackRefusal(row({ state: 'rolling' }), now)).toMatch(/^rotation is rolling, not waiting for retirement/);
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
