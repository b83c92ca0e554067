import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { commonServiceSchema, loadConfig } from '@caracal-rotation/config';
import type { CheckName, Plan } from '@caracal-rotation/contracts';
import { createServiceRuntime, type ServiceRuntime } from '@caracal-rotation/runtime';
import { generateKeyHex, generatePasswordHex, keyIdOf } from '@caracal-rotation/secrets';
import { deleteKeys, testRedis, uniqueName } from '@caracal-rotation/testing';
import pg from 'pg';
import { afterAll, beforeAll, vi, describe, expect, it } from 'vitest';
import { CHECKS, diagnose } from '../src/index.js';
import { contextOn, planFor } from './support/context.js';
import { startFleet, type Fleet } from './support/fleet.js';

// Restarts of Caracal's services take seconds each on a loaded two-core machine.
vi.setConfig({ testTimeout: 120_000 });

let fleet: Fleet;
beforeAll(async () => {
  fleet = await startFleet(1);
});
afterAll(async () => fleet?.close());

async function check(name: CheckName, plan: Plan, over: Parameters<typeof contextOn>[2]) {
  return { name, ...(await CHECKS[name](contextOn(fleet, plan, over))), duration_ms: 0 };
}

const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

describe('a Postgres role password', () => {
  it('logs in with the new password and is refused (28P01) with the old one once ALTER ROLE ran', async () => {
    const plan = planFor(fleet, { material: 'POSTGRES_PASSWORD', role: 'api' });
    const old = await fleet.secret('apiDbPassword');
    const next = generatePasswordHex();
    const before = await check('postgres_login_old_refused', plan, { newKid: keyIdOf(next), previousKid: keyIdOf(old) }).catch((err: Error) => ({ ok: false, detail: err.message }));
    // The old password is the current one until the writer runs: not recorded yet, so the check cannot find it as "old".
    expect(before.ok).toBe(false);

    await fleet.store.recordVersion('apiDbPassword', old, { rotationId: '01a232ad-0000-7000-8000-00000000d001', phase: 'before' });
    const admin = new pg.Client({ connectionString: await fleet.secret('databaseUrl') });
    await admin.connect();
    await admin.query(`ALTER ROLE caracalapi PASSWORD '${next}'`);
    await admin.end();
    await fleet.store.write('apiDbPassword', next);
    await fleet.store.write('apiDatabaseUrl', withPassword(await fleet.secret('apiDatabaseUrl'), next));
    const kids = { newKid: keyIdOf(next), previousKid: keyIdOf(old) };

    const fresh = await check('postgres_login_new', plan, kids);
    expect(fresh, fresh.detail).toMatchObject({ ok: true });
    expect(fresh.detail).toMatch(/login as the role of apiDatabaseUrl with password \w+: logged in/);
    const refused = await check('postgres_login_old_refused', plan, kids);
    expect(refused, refused.detail).toMatchObject({ ok: true, detail: expect.stringMatching(/refused \(28P01\)/) });
    await fleet.docker('restart', 'api');
  });

  it('postgres_login_new fails when the role URL file still carries the old password', async () => {
    const plan = planFor(fleet, { material: 'POSTGRES_PASSWORD', role: 'api' });
    const current = await fleet.secret('apiDbPassword');
    const url = await fleet.secret('apiDatabaseUrl');
    await fleet.store.write('apiDatabaseUrl', withPassword(url, generatePasswordHex()));
    try {
      const result = await check('postgres_login_new', plan, { newKid: keyIdOf(current) });
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/apiDatabaseUrl does not carry that password/);
      expect(diagnose([result])).toMatch(/The role cannot log in with its new password/);
    } finally {
      await fleet.store.write('apiDatabaseUrl', url);
    }
  });
});

describe("Caracal's Redis password", () => {
  it('AUTH takes the new password; the old one keeps working during the overlap and is refused (WRONGPASS) once removed', async () => {
    const plan = planFor(fleet, { material: 'REDIS_PASSWORD' });
    const old = await fleet.secret('redisPassword');
    const next = generatePasswordHex();
    await fleet.store.recordVersion('redisPassword', old, { rotationId: '01a232ad-0000-7000-8000-00000000d002', phase: 'before' });
    await fleet.caracalRedis.call('ACL', 'SETUSER', 'default', 'on', `>${next}`);
    await fleet.store.write('redisPassword', next);
    await fleet.store.write('redisUrl', withPassword(await fleet.secret('redisUrl'), next));
    const kids = { newKid: keyIdOf(next), previousKid: keyIdOf(old) };

    expect(await check('redis_auth_new', plan, kids)).toMatchObject({ ok: true, detail: expect.stringMatching(/: OK$/) });
    const overlap = await check('redis_auth_old_refused', plan, kids);
    expect(overlap).toMatchObject({ ok: false, detail: expect.stringMatching(/the old password \w+: OK; expected WRONGPASS/) });
    expect(diagnose([overlap])).toMatch(/Redis still accepts the old password/);

    await fleet.caracalRedis.call('ACL', 'SETUSER', 'default', `<${old}`);
    expect(await check('redis_auth_old_refused', plan, kids)).toMatchObject({ ok: true, detail: expect.stringMatching(/refused \(WRONGPASS\)/) });
  });
});

describe('the bus key', () => {
  const prefix = uniqueName('t-verifier-bus');
  const bus = testRedis();
  let dir: string;
  const runtimes: ServiceRuntime[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'verifier-rotation-'));
    await chmod(dir, 0o700);
  });
  afterAll(async () => {
    for (const r of runtimes) await r.shutdown.shutdown('test over');
    await deleteKeys(bus, `{${prefix}}`);
    bus.disconnect();
    await rm(dir, { recursive: true, force: true });
  });

  async function startInstance(service: string) {
    const config = loadConfig(commonServiceSchema, { REDIS_URL: process.env.REDIS_URL, CARACAL_ROTATION_DIR: dir, CARACAL_SECRETS_DIR: dir, STREAM_PREFIX: prefix, LOG_LEVEL: 'silent', INSTANCE_ID: uniqueName(service) });
    runtimes.push(await createServiceRuntime(service, config));
  }

  it('bus_key_loaded passes once every live instance holds the new key, and names the ones that do not', async () => {
    const old = generateKeyHex();
    await writeFile(path.join(dir, 'busKey'), old, { mode: 0o400 });
    for (const s of ['planner', 'secret-writer', 'roller', 'verifier', 'recorder']) await startInstance(s);
    const plan = { ...planFor(fleet, { material: 'ROTATION_BUS_KEY' }), store: 'rotation' as const };
    const next = generateKeyHex();
    const kids = { newKid: keyIdOf(next), previousKid: keyIdOf(old) };

    const before = await check('bus_key_loaded', plan, { ...kids, busRedis: bus, streamPrefix: prefix, rotationDir: dir });
    expect(before.ok).toBe(false);
    expect(before.detail).toMatch(new RegExp(`without kid ${kids.newKid}: .*planner/`));

    // The writer's deploy: the new key current, the old one previous; every instance re-reads its files.
    await writeFile(path.join(dir, 'busKeyPrevious'), old, { mode: 0o400 });
    await rm(path.join(dir, 'busKey'));
    await writeFile(path.join(dir, 'busKey'), next, { mode: 0o400 });
    await expect
      .poll(async () => (await check('bus_key_loaded', plan, { ...kids, busRedis: bus, streamPrefix: prefix, rotationDir: dir })).ok, { timeout: 20_000, interval: 500 })
      .toBe(true);
  });
});
