import { DEFAULT_CATALOG, holdersConfigSchema, type HoldersConfig } from '@caracal-rotation/contracts';
import { describe, expect, it } from 'vitest';
import { buildPlan, validateRequest, type AcceptedRequest } from './index.js';

const docker = (name: string) => ({ url: `http://${name}:1`, restart: { adapter: 'docker', container: `caracal-${name}-1` } });
/** A `caracal up` deployment: every service but web restarts through Docker; web re-reads its token files. */
const compose: HoldersConfig = holdersConfigSchema.parse({
  version: 2,
  services: {
    api: docker('api'),
    sts: docker('sts'),
    gateway: docker('gateway'),
    audit: docker('audit'),
    coordinator: docker('coordinator'),
    web: { url: 'http://web:3002', restart: { adapter: 'none', why: 're-reads the token files on every request' } },
  },
  zones: {},
  postgres: {},
  redis: {},
  kek_reseal: { command: ['node', 'reseal.mjs'] },
});

const accept = (raw: Record<string, unknown>): AcceptedRequest => {
  const verdict = validateRequest({ reason: 'test', ...raw }, DEFAULT_CATALOG);
  if (!verdict.ok) throw new Error(verdict.message);
  return verdict.request;
};
const ctx = (holders: HoldersConfig = compose) => ({ requestedAt: '2026-12-01T00:00:00.000Z', actor: 'alice@ops', streamPrefix: 'caracal.rotation', holders });

describe('validateRequest', () => {
  it('answers each problem with its reason code', () => {
    const code = (raw: Record<string, unknown>) => {
      const v = validateRequest(raw, DEFAULT_CATALOG);
      return v.ok ? 'ok' : `${v.code}: ${v.message}`;
    };
    expect(code({ material: 'NOPE', reason: 'x' })).toMatch(/^unknown_material/);
    expect(code({ material: 'AUDIT_HMAC_KEY' })).toMatch(/^invalid_request: reason/);
    expect(code({ material: 'ZONE_SIGNING_KEY', reason: 'x' })).toMatch(/^invalid_request: .*needs zone_id/);
    expect(code({ material: 'AUDIT_HMAC_KEY', reason: 'x', zone_id: 'z1' })).toMatch(/not rotated per zone/);
    expect(code({ material: 'POSTGRES_PASSWORD', reason: 'x' })).toMatch(/needs role \(one of api, sts, gateway, audit, coordinator, auth\)/);
    expect(code({ material: 'POSTGRES_PASSWORD', reason: 'x', role: 'nobody' })).toMatch(/no Postgres role nobody/);
    expect(code({ material: 'ZONE_SIGNING_KEY', reason: 'x', zone_ids: ['a', 'a'] })).toMatch(/duplicates/);
    expect(code({ material: 'ZONE_SIGNING_KEY', reason: 'x', zone_ids: ['a', '*'] })).toMatch(/stands alone/);
    expect(code({ material: 'AUDIT_HMAC_KEY', reason: 'x', actor: 'mallory' })).toMatch(/^invalid_request: .*actor/);
    expect(code({ material: 'secret_store_kek', reason: 'x' })).toBe('ok');
  });

  it('makes zone_id "*" a batch over every zone', () => {
    expect(accept({ material: 'ZONE_SIGNING_KEY', zone_id: '*' })).toMatchObject({ zones: 'all', batch: true });
    expect(accept({ material: 'ZONE_SIGNING_KEY', zone_id: 'z1' })).toMatchObject({ zones: ['z1'], batch: false });
  });
});

describe('buildPlan', () => {
  it('stages, deploys and retires the KEK, restarting api then sts each time', () => {
    const plan = buildPlan(accept({ material: 'ZONE_KEK' }), ctx());
    expect(plan.phases.map((p) => [p.phase, p.roll])).toEqual([
      ['stage', [['api'], ['sts']]],
      ['deploy', [['api'], ['sts']]],
      ['retire', [['api'], ['sts']]],
    ]);
    expect(plan.secret).toEqual({ env: 'SECRET_STORE_KEK', file: 'secretStoreKek', previous_file: 'secretStoreKekPrevious', previous_at_rest: 'copy' });
    expect(plan.phases[1]!.checks).toEqual(expect.arrayContaining(['holders_ready', 'audit_ingest', 'kek_reseal', 'kek_rows_on_new_kek', 'holders_restarted']));
  });

  it('switches single-value material together, changes nothing at retirement, and says who it leaves out', () => {
    const plan = buildPlan(accept({ material: 'CARACAL_ADMIN_TOKEN' }), ctx());
    expect(plan.phases.map((p) => [p.phase, p.write, p.roll])).toEqual([
      ['deploy', true, [['api', 'gateway']]],
      ['retire', false, []],
    ]);
    expect(plan.secret?.previous_file).toBeNull();
    expect(plan.rollback.mode).toBe('forward');
    expect(plan.skipped).toContainEqual({ what: 'restart web', why: 're-reads the token files on every request' });
    expect(plan.warnings.join('\n')).toMatch(/api, gateway restart together/);
  });

  it('leaves out checks whose service the holders file does not list, and says why', () => {
    const { audit: _audit, ...withoutAudit } = compose.services;
    const plan = buildPlan(accept({ material: 'AUDIT_HMAC_KEY' }), ctx({ ...compose, services: withoutAudit }));
    const deploy = plan.phases.find((p) => p.phase === 'deploy')!;
    expect(deploy.checks).not.toContain('audit_new_key_accepted');
    expect(plan.skipped).toContainEqual({ what: 'check audit_new_key_accepted', why: 'needs the audit service, which the holders file does not list' });
    expect(plan.skipped).toContainEqual({ what: 'restart audit', why: 'the holders file does not list it' });
    expect(plan.warnings.join('\n')).toMatch(/tamper sweep/);
  });

  it('plans zone keys with nothing to restart and no rollback, as one plan for a batch', () => {
    const plan = buildPlan(accept({ material: 'ZONE_SIGNING_KEY', zone_ids: ['a', 'b', 'c'] }), ctx());
    expect(plan.batch).toEqual({ zones: 3 });
    expect(plan.zone_id).toBeUndefined();
    expect(plan.phases.every((p) => p.roll.length === 0)).toBe(true);
    expect(plan.rollback.mode).toBe('none');
    expect(plan.safety_window_ms).toBe((300 + 900 + 300 + 3600) * 1000);
    expect(buildPlan(accept({ material: 'ZONE_SIGNING_KEY', zone_id: '*' }), ctx()).batch).toEqual({ zones: 'all' });
  });

  it('drains every group of every Caracal stream before a STREAMS switch, and our own streams for the bus key', () => {
    const streams = buildPlan(accept({ material: 'STREAMS_HMAC_KEY' }), ctx({ ...compose, caracal: { ...compose.caracal, namespace: 'ns1:' } }));
    expect(streams.drain).toEqual([{ stream: 'ns1:caracal.*', group: '*' }]);
    expect(streams.drain_before_switch).toBe(true);
    const bus = buildPlan(accept({ material: 'ROTATION_BUS_KEY' }), ctx());
    expect(bus.drain).toEqual([{ stream: 'caracal.rotation.*', group: '*' }]);
    expect(bus.phases[0]).toMatchObject({ phase: 'stage', roll: [['planner', 'secret-writer', 'roller', 'verifier', 'recorder']], checks: ['holders_restarted'] });
  });

  it('rolls only the services of the role, and records the operator as the actor', () => {
    const plan = buildPlan(accept({ material: 'POSTGRES_PASSWORD', role: 'auth' }), ctx());
    expect(plan.secret?.file).toBe('authDbPassword');
    expect(plan.derived).toEqual(['authDatabaseUrl']);
    expect(plan.skipped).toContainEqual({ what: 'restart web', why: 're-reads the token files on every request' });
    expect(buildPlan(accept({ material: 'POSTGRES_PASSWORD', role: 'api' }), ctx()).phases[0]!.roll).toEqual([['api']]);
    expect(plan.requested.actor).toBe('alice@ops');
  });

  it('makes the window zero for an emergency and says so', () => {
    const plan = buildPlan(accept({ material: 'AUDIT_HMAC_KEY', emergency: true }), ctx());
    expect(plan.safety_window_ms).toBe(0);
    expect(plan.warnings.join('\n')).toMatch(/emergency/);
  });
});
