import { rotateZoneSigningKey } from '@caracal-rotation/caracal-client';
import type { CheckName, HoldersConfig, Plan } from '@caracal-rotation/contracts';
import { generateKekHex, keyIdOf } from '@caracal-rotation/secrets';
import { afterAll, beforeAll, vi, describe, expect, it } from 'vitest';
import { CHECKS, diagnose } from '../src/index.js';
import { contextOn, planFor } from './support/context.js';
import { startFleet, type Fleet } from './support/fleet.js';

// Restarts of Caracal's services take seconds each on a loaded two-core machine.
vi.setConfig({ testTimeout: 120_000 });

let fleet: Fleet;
beforeAll(async () => {
  fleet = await startFleet(3);
});
afterAll(async () => fleet?.close());

async function check(name: CheckName, plan: Plan, over: Parameters<typeof contextOn>[2] = {}) {
  return { name, ...(await CHECKS[name](contextOn(fleet, plan, over))), duration_ms: 0 };
}

describe('zone signing keys', () => {
  it('jwks_new_kid and jwks_keys_valid pass after the STS rotated the zone, with the previous key still listed at deploy', async () => {
    const zone = fleet.sandbox.zones[0]!;
    const plan = planFor(fleet, { material: 'ZONE_SIGNING_KEY', zone_id: zone });
    const before = await fetch(`${fleet.sandbox.services.sts}/.well-known/jwks.json?zone_id=${zone}`).then((r) => r.json() as Promise<{ keys: { kid: string }[] }>);
    const { kid } = await rotateZoneSigningKey(fleet.sandbox.services.sts, await fleet.secret('stsAdminToken'), zone);
    const kids = { newKid: kid, previousKid: before.keys[0]!.kid };
    const listed = await check('jwks_new_kid', plan, kids);
    expect(listed, listed.detail).toMatchObject({ ok: true });
    expect(listed.detail).toContain(`[${kid}, ${kids.previousKid}]`);
    expect(await check('jwks_keys_valid', plan, kids)).toMatchObject({ ok: true, detail: expect.stringMatching(/2 ES256 P-256 public keys/) });
  });

  it('jwks_new_kid fails when the active key is not the one the rotation made', async () => {
    const zone = fleet.sandbox.zones[1]!;
    const plan = planFor(fleet, { material: 'ZONE_SIGNING_KEY', zone_id: zone });
    const result = await check('jwks_new_kid', plan, { newKid: '01a232ad-ffff-7000-8000-000000000000', previousKid: undefined });
    expect(result.ok).toBe(false);
    expect(diagnose([result])).toMatch(/JWKS clients reject mandates after rotation/);
  });
});

/** The KEK rotation as the secret-writer and roller run it: stage (new as previous), deploy (swap), restarts of api and sts in order. */
async function deployNewKek(rotationId: string): Promise<{ newKid: string; previousKid: string; newKek: string }> {
  const old = await fleet.secret('secretStoreKek');
  await fleet.store.recordVersion('secretStoreKek', old, { rotationId, phase: 'before' });
  const next = generateKekHex();
  await fleet.store.write('secretStoreKekPrevious', next);
  await fleet.docker('restart', 'api');
  await fleet.docker('restart', 'sts');
  await fleet.store.write('secretStoreKekPrevious', old);
  await fleet.store.write('secretStoreKek', next);
  await fleet.docker('restart', 'api');
  await fleet.docker('restart', 'sts');
  return { newKid: keyIdOf(next), previousKid: keyIdOf(old), newKek: next };
}

describe('the KEK', () => {
  it('before the re-seal, rows are still under the old KEK: kek_rows_on_new_kek fails and says where', async () => {
    const plan = planFor(fleet, { material: 'ZONE_KEK' });
    const kids = await deployNewKek('01a232ad-0000-7000-8000-00000000c001');
    const rows = await check('kek_rows_on_new_kek', plan, kids);
    expect(rows.ok).toBe(false);
    expect(rows.detail).toMatch(/secret_store\.envelope [1-9]/);
    expect(rows.detail).toMatch(/secrets\.envelope [1-9]/);
    expect(diagnose([rows])).toMatch(/Rows are still sealed under the old SECRET_STORE_KEK/);
  });

  it('a re-seal job run as the API role examines only what row-level security shows it (notification_sinks), and kek_reseal refuses to trust it', async () => {
    const plan = planFor(fleet, { material: 'ZONE_KEK' });
    const kids = { newKid: keyIdOf(await fleet.secret('secretStoreKek')), previousKid: keyIdOf(await fleet.secret('secretStoreKekPrevious')) };
    const job = fleet.holders.kek_reseal!;
    const holders: HoldersConfig = { ...fleet.holders, kek_reseal: { ...job, env: { ...job.env, DATABASE_URL_FILE: '{secrets_dir}/apiDatabaseUrl' } } };
    const result = await check('kek_reseal', plan, { ...kids, holders, bound: 60_000 });
    expect(result.ok, result.detail).toBe(false);
    expect(result.detail).toMatch(/exit 0\): 1 rows examined.*the admin role sees sealed rows the job did not examine \(secret_store \d+, secrets \(zone signing keys\) \d+, .*\): the job ran as a role row-level security hides them from/);
  });

  it('the re-seal job as the admin role moves every row: kek_reseal, kek_rows_on_new_kek and kek_zone_keys_open pass', async () => {
    const plan = planFor(fleet, { material: 'ZONE_KEK' });
    const kids = { newKid: keyIdOf(await fleet.secret('secretStoreKek')), previousKid: keyIdOf(await fleet.secret('secretStoreKekPrevious')) };
    const reseal = await check('kek_reseal', plan, { ...kids, bound: 60_000 });
    expect(reseal, reseal.detail).toMatchObject({ ok: true });
    expect(reseal.detail).toMatch(/exit 0\): \d+ rows examined, [1-9]\d* resealed, .* 0 failed/);
    expect(await check('kek_rows_on_new_kek', plan, kids)).toMatchObject({ ok: true });
    const open = await check('kek_zone_keys_open', plan, { ...kids, bound: 60_000 });
    expect(open, open.detail).toMatchObject({ ok: true });
    expect(open.detail).toMatch(/^3 zones: 3 JWKS 200/);
  });

  it('kek_zone_keys_open fails when the STS runs without the KEK that sealed the zone keys', async () => {
    const plan = planFor(fleet, { material: 'ZONE_KEK' });
    const current = await fleet.secret('secretStoreKek');
    const previous = await fleet.secret('secretStoreKekPrevious');
    // The STS restarts with a KEK that opens nothing.
    const stranger = generateKekHex();
    await fleet.store.write('secretStoreKek', stranger);
    await fleet.store.write('secretStoreKekPrevious', stranger);
    await fleet.docker('restart', 'sts');
    try {
      const open = await check('kek_zone_keys_open', plan, { newKid: keyIdOf(stranger), previousKid: keyIdOf(current), bound: 30_000 });
      expect(open.ok).toBe(false);
      expect(open.detail).toMatch(/3 zones: 0 JWKS 200, 0 without a key yet \(404\), 3 failing.*: 500/);
      expect(diagnose([open])).toMatch(/Signing key decryption fails/);
    } finally {
      await fleet.store.write('secretStoreKek', current);
      await fleet.store.write('secretStoreKekPrevious', previous);
      await fleet.docker('restart', 'sts');
    }
  });

  it('a re-seal job killed by a signal is run again, up to its attempts', async () => {
    const plan = planFor(fleet, { material: 'ZONE_KEK' });
    const kids = { newKid: keyIdOf(await fleet.secret('secretStoreKek')), previousKid: keyIdOf(await fleet.secret('secretStoreKekPrevious')) };
    const job = fleet.holders.kek_reseal!;
    // The first run kills itself, as an OOM kill would; the marker file makes the second one run the job.
    const marker = `${fleet.sandbox.secrets_dir}/../reseal-killed-once`;
    const script = `const fs=require('fs');if(!fs.existsSync(process.argv[1])){fs.writeFileSync(process.argv[1],'');process.kill(process.pid,'SIGKILL')}require('child_process').execFileSync(process.argv[2],process.argv.slice(3),{stdio:'inherit'})`;
    const holders: HoldersConfig = { ...fleet.holders, kek_reseal: { ...job, command: [process.execPath, '-e', script, marker, ...job.command] } };
    const result = await check('kek_reseal', plan, { ...kids, holders, bound: 60_000 });
    expect(result, result.detail).toMatchObject({ ok: true });
    expect(result.detail).toMatch(/^re-seal job \(killed by SIGKILL, then exit 0\)/);
  });
});
