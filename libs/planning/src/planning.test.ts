import { DEFAULT_CATALOG } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { buildPlan, validateRequest, type AcceptedRequest } from './index.js';

const ctx = { requestedAt: '2026-11-28T10:00:00.000Z', streamPrefix: 'caracal.rotation', caracalNamespace: '' };
const accept = (data: Record<string, unknown>): AcceptedRequest => {
  const verdict = validateRequest({ reason: 'r', actor: 'a', ...data }, DEFAULT_CATALOG);
  if (!verdict.ok) throw new Error(verdict.message);
  return verdict.request;
};

describe('validateRequest', () => {
  it.each([
    [{ material: 'ZONE_SIGNING_KEY' }, 'invalid_request', /needs zone_id/],
    [{ material: 'POSTGRES_PASSWORD' }, 'invalid_request', /needs role/],
    [{ material: 'POSTGRES_PASSWORD', role: 'ghost' }, 'invalid_request', /no holders are known for role ghost/],
    [{ material: 'AUDIT_HMAC_KEY', zone_id: 'z1' }, 'invalid_request', /not rotated per zone/],
    [{ material: 'ZONE_SIGNING_KEY', zone_ids: ['a', 'a'] }, 'invalid_request', /duplicates/],
    [{ material: 42 }, 'invalid_request', /material is required/],
    [{ material: 'PLUTONIUM' }, 'unknown_material', /PLUTONIUM/],
  ])('refuses %j with %s', (data, code, message) => {
    const verdict = validateRequest({ reason: 'r', actor: 'a', ...data }, DEFAULT_CATALOG);
    expect(verdict).toMatchObject({ ok: false, code });
    expect(!verdict.ok && verdict.message).toMatch(message);
  });

  it('accepts the KEK under its code name', () => {
    expect(accept({ material: 'SECRET_STORE_KEK' }).material).toBe('ZONE_KEK');
  });
});

describe('buildPlan', () => {
  it('drains every group of every caracal stream, our own included, for the streams key', () => {
    const plan = buildPlan(accept({ material: 'STREAMS_HMAC_KEY' }), undefined, { ...ctx, streamPrefix: 't1.caracal.rotation', caracalNamespace: 'ns:' });
    expect(plan.drain).toEqual([
      { stream: 'ns:caracal.*', group: '*' },
      { stream: 't1.caracal.rotation.*', group: '*' },
    ]);
  });

  it('switches no-overlap material together, warns, and counts dead letters', () => {
    const plan = buildPlan(accept({ material: 'CARACAL_ADMIN_TOKEN' }), undefined, ctx);
    expect(plan.phases).toEqual(['deploy', 'retire']);
    expect(plan.warnings[0]).toMatch(/restarts together/);
    expect(plan.checks.deploy).toContain('holder_dead_letters');
  });

  it('makes the window zero for an emergency and says so', () => {
    const plan = buildPlan(accept({ material: 'AUDIT_HMAC_KEY', emergency: true }), undefined, ctx);
    expect(plan.safety_window_ms).toBe(0);
    expect(plan.emergency).toBe(true);
    expect(plan.warnings.join()).toMatch(/emergency/);
  });

  it('rolls only the services of the role for a Postgres password', () => {
    const plan = buildPlan(accept({ material: 'POSTGRES_PASSWORD', role: 'sts' }), undefined, ctx);
    expect(plan.holders).toEqual([{ service: 'sts', roll_group: 0 }]);
    expect(plan.secret?.file).toBe('stsDbPassword');
    expect(plan.derived).toEqual(['stsDatabaseUrl']);
  });
});
