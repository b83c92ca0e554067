import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_CATALOG, EVENT_NAMES, type Material } from '@caracal-rotation/contracts';
import { getRotation } from '@caracal-rotation/projection';
import { SecretStore, keyIdOf } from '@caracal-rotation/secrets';
import { readStream } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetAccepts } from '../support/fleet-probes.js';
import { startE2E, type E2E } from '../support/e2e-stack.js';

let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('materials');
}, 120_000);
afterAll(async () => e2e?.stop(), 60_000);

const MATERIALS: Material[] = ['AUDIT_HMAC_KEY', 'STREAMS_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN'];

async function eventsOf(id: string) {
  const all = [];
  for (const name of EVENT_NAMES) {
    for (const entry of await readStream(e2e.redis, e2e.operator.streams[name])) {
      if (entry.fields.rotation_id === id) all.push({ name, ...entry });
    }
  }
  return all;
}

describe.each(MATERIALS)('rotating %s end to end', (material) => {
  it('deploys new material, proves every restart, refuses the old material and records everything', async () => {
    const entry = DEFAULT_CATALOG.materials.find((m) => m.material === material)!;
    const file = entry.file!;
    const before = (await readFile(join(e2e.secretsDir, file), 'utf8')).trim();

    const { id, outcome } = await e2e.rotate({ material, ticket: 'E2E-1' });
    expect(outcome).toBe('completed');

    // The secret file holds new material, and no overlap file is left.
    const after = (await readFile(join(e2e.secretsDir, file), 'utf8')).trim();
    expect(after).not.toBe(before);
    expect(after).toMatch(/^[0-9a-f]{64}$/);
    await expect(readFile(join(e2e.secretsDir, `${file}Previous`), 'utf8')).rejects.toThrow(/ENOENT/);

    // Every holder was restarted in every phase that changed something, with proof.
    const events = await eventsOf(id);
    const plan = events.find((e) => e.name === 'planned')!.data.plan as { holders: { service: string }[]; phases: string[] };
    const rolled = events.filter((e) => e.name === 'rolled');
    expect(rolled.map((r) => r.data.phase)).toEqual(expect.arrayContaining(plan.phases.filter((p) => p !== 'retire' || entry.overlap === 'dual')));
    for (const roll of rolled.filter((r) => (r.data.holders as unknown[]).length > 0)) {
      const holders = roll.data.holders as { service: string; ok: boolean; proof: { before: string; after: string } }[];
      expect(holders.map((h) => h.service).sort()).toEqual(plan.holders.map((h) => h.service).sort());
      for (const h of holders) {
        expect(h.ok, `${h.service} in ${String(roll.data.phase)}`).toBe(true);
        expect(h.proof.after).not.toBe(h.proof.before);
      }
    }

    // The fleet accepts the new material and refuses the old.
    expect(await fleetAccepts(e2e.stack.fleet!, e2e.redis, material, after)).toBe(true);
    expect(await fleetAccepts(e2e.stack.fleet!, e2e.redis, material, before)).toBe(false);

    // The projection has who, when, why, where, the kids and the rollback window.
    const completed = events.find((e) => e.name === 'completed')!;
    expect(completed.data).toMatchObject({ material, new_kid: keyIdOf(after), previous_kid: keyIdOf(before) });
    let row = await getRotation(e2e.pool, id);
    for (let i = 0; i < 50 && row?.state !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      row = await getRotation(e2e.pool, id);
    }
    expect(row).toMatchObject({
      state: 'completed',
      material,
      actor: 'e2e@test',
      reason: 'end-to-end test',
      ticket: 'E2E-1',
      newKid: keyIdOf(after),
      previousKid: keyIdOf(before),
      secretLocation: join(e2e.secretsDir, file),
    });
    for (const field of ['requestedAt', 'completedAt', 'retireAfter'] as const) expect(row![field], field).toBeTruthy();

    // rotation_events holds every event of the rotation.
    const recorded = await e2e.pool.query<{ event_id: string }>('SELECT event_id FROM rotation_events WHERE rotation_id = $1', [id]);
    expect(new Set(recorded.rows.map((r) => r.event_id))).toEqual(new Set(events.map((e) => e.fields.event_id)));

    // The old value is kept in the private history, and nowhere in the deployed files.
    expect(await new SecretStore({ dir: e2e.secretsDir }).readVersion(file, keyIdOf(before))).toBe(before);
  }, 120_000);
});
