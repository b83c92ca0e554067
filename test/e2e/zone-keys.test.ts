import { followRotation } from '@caracal-rotation/caracal-rotate';
import { listRotations } from '@caracal-rotation/projection';
import { readStream } from '@caracal-rotation/testing';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';

const ZONES = Array.from({ length: Number(process.env.E2E_ZONES ?? 1000) }, (_, i) => `zone-${String(i).padStart(4, '0')}`);
let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('zones', { seed: { zones: ZONES } });
}, 180_000);
afterAll(async () => e2e?.stop(), 60_000);

async function jwksKids(zone: string): Promise<string[]> {
  const res = await fetch(`${e2e.stack.fleet!.url('sts')}/.well-known/jwks.json?zone_id=${zone}`);
  return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
}

it('rotates one zone: the JWKS shows the new kid, the old mandate verifies during the overlap and fails after', async () => {
  const zone = ZONES[0]!;
  const sts = e2e.stack.fleet!.url('sts');
  const token = (await readFile(join(e2e.secretsDir, 'stsAdminToken'), 'utf8')).trim();
  const [oldKid] = await jwksKids(zone);
  const minted = await fetch(`${sts}/internal/mandates`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ zone_id: zone, subject: 'e2e', ttl_seconds: 600 }),
  });
  const { mandate } = (await minted.json()) as { mandate: string };

  const { id, outcome } = await e2e.rotate({ material: 'ZONE_SIGNING_KEY', zone_id: zone });
  expect(outcome).toBe('completed');
  const completed = (await readStream(e2e.redis, e2e.operator.streams.completed)).find((c) => c.fields.rotation_id === id)!;
  expect(completed.data).toMatchObject({ zone_id: zone, previous_kid: oldKid });
  expect(await jwksKids(zone)).toEqual([completed.data.new_kid]);

  const deploy = (await readStream(e2e.redis, e2e.operator.streams.verified)).find((v) => v.fields.rotation_id === id && v.data.phase === 'deploy')!;
  const checks = deploy.data.checks as { name: string; ok: boolean }[];
  expect(checks.find((c) => c.name === 'jwks_old_mandate_verifies')).toMatchObject({ ok: true });
  expect(checks.find((c) => c.name === 'jwks_new_kid')).toMatchObject({ ok: true });

  const verify = await fetch(`${sts}/internal/mandates/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mandate, zone_id: zone }) });
  expect(((await verify.json()) as { valid: boolean }).valid).toBe(false);
}, 120_000);

it(`rotates the signing keys of ${ZONES.length} zones from one request, each recorded on its own`, async () => {
  const before = new Map(await Promise.all(ZONES.map(async (z) => [z, (await jwksKids(z))[0]!] as const)));
  const started = Date.now();
  const batch = await e2e.operator.request({ material: 'ZONE_SIGNING_KEY', zone_id: '*', reason: 'rotate every zone', actor: 'e2e@test' });
  const result = await followRotation(e2e.redis, e2e.operator.streams, batch, () => undefined, { timeoutMs: 600_000, expectRotations: ZONES.length });
  const elapsed = (Date.now() - started) / 1000;
  console.log(`${ZONES.length} zone signing keys rotated (deploy + retire) in ${elapsed.toFixed(1)} s (${(ZONES.length / elapsed).toFixed(0)} rotations/s)`);

  const outcomes = [...result.terminal.entries()].filter(([id]) => id !== batch);
  expect(outcomes).toHaveLength(ZONES.length);
  expect(outcomes.every(([, o]) => o === 'completed')).toBe(true);

  const completed = (await readStream(e2e.redis, e2e.operator.streams.completed)).filter((c) => c.data.batch_id === batch);
  expect(new Set(completed.map((c) => c.data.zone_id))).toEqual(new Set(ZONES));
  for (const c of completed) {
    const zone = c.data.zone_id as string;
    expect(c.data.previous_kid).toBe(before.get(zone));
    expect(await jwksKids(zone)).toEqual([c.data.new_kid]);
  }

  let rows = await listRotations(e2e.pool, { batchId: batch, limit: 5000 });
  for (let i = 0; i < 100 && rows.filter((r) => r.state === 'completed').length < ZONES.length; i++) {
    await new Promise((r) => setTimeout(r, 200));
    rows = await listRotations(e2e.pool, { batchId: batch, limit: 5000 });
  }
  const zoneRows = rows.filter((r) => r.zoneId !== null);
  expect(zoneRows).toHaveLength(ZONES.length);
  expect(zoneRows.every((r) => r.state === 'completed' && r.batchId === batch)).toBe(true);
}, 660_000);
