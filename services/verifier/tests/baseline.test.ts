import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, vi, describe, expect, it } from 'vitest';
import { CHECKS, diagnose } from '../src/index.js';
import { runChecks } from '../src/run-checks.js';
import { contextOn, planFor } from './support/context.js';
import { startFleet, type Fleet } from './support/fleet.js';

// Restarts of Caracal's services take seconds each on a loaded two-core machine.
vi.setConfig({ testTimeout: 120_000 });

let fleet: Fleet;
beforeAll(async () => {
  fleet = await startFleet();
});
afterAll(async () => fleet?.close());

const plan = () => planFor(fleet, { material: 'GATEWAY_STS_HMAC_KEY' });

describe('the baseline checks on a healthy fleet', () => {
  it.each(['holders_ready', 'audit_ingest', 'revocation_propagation', 'gateway_exchange'] as const)('%s passes', async (name) => {
    const result = await CHECKS[name](contextOn(fleet, plan()));
    expect(result, result.detail).toMatchObject({ ok: true });
  });

  it('audit_ingest leaves no probe in the DLQ', async () => {
    const before = await fleet.caracalRedis.xlen(fleet.streams.auditDlq);
    await CHECKS.audit_ingest(contextOn(fleet, plan()));
    expect(await fleet.caracalRedis.xlen(fleet.streams.auditDlq)).toBe(before);
  });

  it('revocation_propagation raises the gateway counter of applied revocations by one', async () => {
    const result = await CHECKS.revocation_propagation(contextOn(fleet, plan()));
    const [, from, to] = /caracal_gateway_revocation_messages_total \S+ (\d+)→(\d+)/.exec(result.detail) ?? [];
    expect(Number(to) - Number(from)).toBe(1);
  });
});

describe('the baseline checks when something is wrong', () => {
  it('audit_ingest fails while real events reach the DLQ', async () => {
    // A producer with the wrong AUDIT_HMAC_KEY keeps publishing while the check runs.
    const wrongKey = randomBytes(32);
    let n = 0;
    const producer = setInterval(() => {
      const data = JSON.stringify({ id: `evt-${n++}`, zone_id: 'z', occurred_at: new Date().toISOString() });
      void fleet.caracalRedis.xadd(fleet.streams.auditEvents, '*', 'id', `evt-${n}`, 'data', data, 'sig', createHmac('sha256', wrongKey).update(data).digest('hex'));
    }, 20);
    try {
      const result = await CHECKS.audit_ingest(contextOn(fleet, plan()));
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/events reached the DLQ meanwhile \(hmac_verify_failed\)/);
      expect(result.detail).toMatch(/caracal_audit_hmac_failures_total grew/);
      expect(diagnose([{ name: 'audit_ingest', ...result, duration_ms: 1 }])).toMatch(/^audit_ingest: Audit DLQ grows: producer and Audit AUDIT_HMAC_KEY mismatch/);
    } finally {
      clearInterval(producer);
    }
  });

  it('holders_ready names a holder that is down, and passes once it is back', async () => {
    await fleet.docker('stop', 'audit');
    try {
      const result = await CHECKS.holders_ready(contextOn(fleet, plan()));
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/not ready: audit \(http:\/\/127\.0\.0\.1:\d+\): /);
      expect(diagnose([{ name: 'holders_ready', ...result, duration_ms: 1 }])).toMatch(/^holders_ready: A holder is not ready/);
    } finally {
      await fleet.docker('start', 'audit');
    }
    expect((await CHECKS.holders_ready(contextOn(fleet, plan()))).ok).toBe(true);
  });

  it('audit_ingest fails within its bound when the Audit consumer is down', async () => {
    await fleet.docker('stop', 'audit');
    try {
      const [result] = await runChecks(['audit_ingest'], CHECKS, { boundOf: () => 1_500 }, (deadline, signal) => contextOn(fleet, plan(), { deadline, signal }));
      expect(result).toMatchObject({ name: 'audit_ingest', ok: false });
      expect(result!.detail).toMatch(/^could not run: GET http:\/\/127\.0\.0\.1:\d+\/metrics failed: (connect )?ECONNREFUSED|^did not finish within 1500 ms/);
    } finally {
      await fleet.docker('start', 'audit');
    }
  });

  it('gateway_exchange fails when the STS holds another gateway key than the store', async () => {
    const original = await fleet.secret('gatewayStsHmacKey');
    await fleet.rotate('gatewayStsHmacKey', '01a232ad-0000-7000-8000-0000000000a1');
    try {
      const result = await CHECKS.gateway_exchange(contextOn(fleet, plan()));
      expect(result).toMatchObject({ ok: false });
      expect(result.detail).toMatch(/signed policy status answered 401/);
    } finally {
      await fleet.store.write('gatewayStsHmacKey', original);
    }
  });

  it('revocation_propagation fails when the gateways hold another streams key than the store', async () => {
    const original = await fleet.secret('streamsHmacKey');
    await fleet.rotate('streamsHmacKey', '01a232ad-0000-7000-8000-0000000000a2');
    try {
      const result = await CHECKS.revocation_propagation(contextOn(fleet, plan(), { bound: 3_000 }));
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/not every gateway applied the revocation probe/);
    } finally {
      await fleet.store.write('streamsHmacKey', original);
    }
  });
});
