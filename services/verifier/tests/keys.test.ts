import type { CaracalService, CheckName, Plan } from '@caracal-rotation/contracts';
import { afterAll, beforeAll, vi, describe, expect, it } from 'vitest';
import { CHECKS, diagnose } from '../src/index.js';
import { contextOn, planFor } from './support/context.js';
import { startFleet, type Fleet } from './support/fleet.js';

// Restarts of Caracal's services take seconds each on a loaded two-core machine.
vi.setConfig({ testTimeout: 120_000 });

/**
 * The material checks of the keys and tokens, on a sandbox whose files the
 * test rotates and whose services it restarts as the secret-writer and the
 * roller would; and the same checks when a holder was not restarted (the old
 * value still accepted).
 */
let fleet: Fleet;
beforeAll(async () => {
  fleet = await startFleet();
});
afterAll(async () => fleet?.close());

let seq = 0;
const rotationId = () => `01a232ad-0000-7000-8000-${String(++seq).padStart(12, '0')}`;

async function check(name: CheckName, plan: Plan, kids: { newKid: string; previousKid: string }, bound?: number) {
  const result = await CHECKS[name](contextOn(fleet, plan, { ...kids, bound }));
  return { name, ...result, duration_ms: 0 };
}

async function restart(...services: CaracalService[]) {
  await Promise.all(services.map((s) => fleet.docker('restart', s)));
}

interface Case {
  material: string;
  file: string;
  holders: CaracalService[];
  accepted: CheckName;
  refused: CheckName;
  /** The holder that, left running with the old value, makes both checks fail. */
  laggard: CaracalService;
  symptom: RegExp;
}

const CASES: Case[] = [
  { material: 'GATEWAY_STS_HMAC_KEY', file: 'gatewayStsHmacKey', holders: ['api', 'sts', 'gateway'], accepted: 'gateway_new_key_accepted', refused: 'gateway_old_key_refused', laggard: 'sts', symptom: /GATEWAY_STS_HMAC_KEY mismatch/ },
  { material: 'AUDIT_HMAC_KEY', file: 'auditHmacKey', holders: ['api', 'sts', 'gateway', 'audit', 'coordinator'], accepted: 'audit_new_key_accepted', refused: 'audit_old_key_refused', laggard: 'audit', symptom: /Audit DLQ grows: producer and Audit AUDIT_HMAC_KEY mismatch/ },
  { material: 'STREAMS_HMAC_KEY', file: 'streamsHmacKey', holders: ['api', 'sts', 'gateway', 'coordinator'], accepted: 'streams_new_key_accepted', refused: 'streams_old_key_refused', laggard: 'sts', symptom: /STREAMS_HMAC_KEY mismatch/ },
  { material: 'CARACAL_ADMIN_TOKEN', file: 'caracalAdminToken', holders: ['api', 'gateway'], accepted: 'admin_token_accepted', refused: 'admin_token_old_refused', laggard: 'api', symptom: /The new CARACAL_ADMIN_TOKEN is refused/ },
  { material: 'CARACAL_COORDINATOR_TOKEN', file: 'caracalCoordinatorToken', holders: ['coordinator'], accepted: 'coordinator_token_accepted', refused: 'coordinator_token_old_refused', laggard: 'coordinator', symptom: /did not load the new CARACAL_COORDINATOR_TOKEN/ },
];

describe.each(CASES)('$material', (c) => {
  it(`${c.accepted} and ${c.refused} pass once every holder restarted with the new value`, async () => {
    const plan = planFor(fleet, { material: c.material });
    const kids = await fleet.rotate(c.file, rotationId());
    await restart(...c.holders);
    const accepted = await check(c.accepted, plan, kids);
    const refused = await check(c.refused, plan, kids);
    expect(accepted, accepted.detail).toMatchObject({ ok: true });
    expect(refused, refused.detail).toMatchObject({ ok: true });
    expect(accepted.detail).toContain(kids.newKid);
    expect(refused.detail).toContain(kids.previousKid);
  });

  it(`${c.accepted} and ${c.refused} fail while ${c.laggard} still runs with the old value, with the symptom`, async () => {
    const plan = planFor(fleet, { material: c.material });
    const kids = await fleet.rotate(c.file, rotationId());
    await restart(...c.holders.filter((h) => h !== c.laggard));
    try {
      const accepted = await check(c.accepted, plan, kids, 2_000);
      const refused = await check(c.refused, plan, kids, 2_000);
      expect(accepted.ok, accepted.detail).toBe(false);
      expect(refused.ok, refused.detail).toBe(false);
      expect(diagnose([accepted, refused])).toMatch(c.symptom);
    } finally {
      // The fleet agrees again for the next case.
      await restart(c.laggard);
    }
  });
});

it('no check puts a value it presented into its detail', async () => {
  const plan = planFor(fleet, { material: 'GATEWAY_STS_HMAC_KEY' });
  const kids = await fleet.rotate('gatewayStsHmacKey', rotationId());
  await restart('api', 'sts', 'gateway');
  const values = [await fleet.secret('gatewayStsHmacKey'), (await fleet.store.readVersion('gatewayStsHmacKey', kids.previousKid))!];
  const results = await Promise.all((['gateway_new_key_accepted', 'gateway_old_key_refused', 'gateway_exchange', 'audit_ingest', 'revocation_propagation'] as const).map((n) => check(n, plan, kids)));
  for (const r of results) for (const v of values) expect(r.detail).not.toContain(v);
});
