import { rm } from 'node:fs/promises';
import { caracalStreams, holdersConfigSchema, newRotationId, type HoldersConfig, type Plan } from '@caracal-rotation/contracts';
import { bootstrapPostgresRoles, startSandboxPostgres, type SandboxPostgres } from '@caracal-rotation/sandbox';
import { generatePasswordHex, keyIdOf, SecretStore } from '@caracal-rotation/secrets';
import { tempSecretsDir, testRedis } from '@caracal-rotation/testing';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MaterialReader } from '../material-reader.js';
import { runChecks } from '../run-checks.js';
import type { CheckContext } from './context.js';
import { CHECKS } from './index.js';
import { postgresChecks } from './postgres.js';

const holders: HoldersConfig = holdersConfigSchema.parse({ version: 1, holders: {}, postgres: {} });
let server: SandboxPostgres;
let redis: Redis;
let dir: string;
let store: SecretStore;
let old: string;
let next: string;
let rotationId: string;

const plan: Plan = {
  material: 'POSTGRES_PASSWORD',
  role: 'api',
  format: 'password24',
  overlap: 'none',
  writer: 'postgres-role',
  secret: { env: 'DB_PASSWORD', file: 'apiDbPassword', previous_file: 'apiDbPasswordPrevious' },
  derived: ['apiDatabaseUrl'],
  phases: ['deploy', 'retire'],
  holders: [],
  checks: { stage: [], deploy: ['postgres_login_new'], retire: ['postgres_login_old_refused'], rollback: [] },
  safety_window_ms: 0,
  drain: [],
  emergency: false,
  dry_run: false,
  warnings: [],
  requested: { actor: 'a', reason: 'r', requested_at: new Date().toISOString() },
};

function ctxFor(over: Partial<CheckContext> = {}): CheckContext {
  return {
    rotationId,
    phase: 'deploy',
    plan,
    rolled: [],
    currentKid: keyIdOf(next),
    otherKid: keyIdOf(old),
    holders,
    caracal: caracalStreams(''),
    redis,
    material: new MaterialReader(store),
    streamPrefix: 'caracal-test.rotation',
    timeoutMs: 3000,
    pollMs: 50,
    ...over,
  };
}

async function setPassword(password: string): Promise<void> {
  const client = new pg.Client({ connectionString: server.adminUrl });
  await client.connect();
  try {
    await client.query(`ALTER ROLE caracalapi PASSWORD ${client.escapeLiteral(password)}`);
  } finally {
    await client.end();
  }
}

/** What the postgres-role writer leaves after deploy: the old password in the history, the new one in the role and the files. */
async function deployNewPassword(): Promise<void> {
  await store.recordVersion('apiDbPassword', old, { rotationId, phase: 'before' });
  await setPassword(next);
  await store.write('apiDbPassword', next);
  await store.write('apiDatabaseUrl', `postgres://caracalapi:${next}@postgres:5432/caracal`);
}

beforeAll(async () => {
  server = await startSandboxPostgres();
  redis = testRedis();
});
afterAll(async () => {
  await server?.stop();
  await redis?.quit();
});

beforeEach(async () => {
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query('DROP ROLE IF EXISTS caracalapi');
  await admin.end();
  dir = await tempSecretsDir();
  await bootstrapPostgresRoles(server.adminUrl, dir, { roles: ['api'], roleTemplate: 'caracal{role}', databaseUrlTemplate: 'postgres://{user}:{password}@postgres:5432/caracal' });
  store = new SecretStore({ dir });
  old = (await store.read('apiDbPassword'))!;
  next = generatePasswordHex();
  rotationId = newRotationId();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('postgres checks', () => {
  it('after deploy: the new password logs in and the old one is refused as a wrong password', async () => {
    await deployNewPassword();
    const fresh = await postgresChecks.postgres_login_new!(ctxFor());
    expect(fresh).toEqual({ ok: true, detail: `login as caracalapi with the password in apiDbPassword (kid ${keyIdOf(next)}): accepted` });
    const stale = await postgresChecks.postgres_login_old_refused!(ctxFor({ phase: 'retire' }));
    expect(stale).toEqual({ ok: true, detail: `login as caracalapi with the old password (kid ${keyIdOf(old)}): refused (28P01, wrong password)` });
  });

  it('runs through the verifier registry by name', async () => {
    await deployNewPassword();
    const results = await runChecks(['postgres_login_new', 'postgres_login_old_refused'], CHECKS, ctxFor());
    expect(results.map((r) => [r.name, r.ok])).toEqual([
      ['postgres_login_new', true],
      ['postgres_login_old_refused', true],
    ]);
  });

  it('fails when the role still has the old password', async () => {
    await deployNewPassword();
    await setPassword(old);
    const fresh = await postgresChecks.postgres_login_new!(ctxFor());
    expect(fresh).toMatchObject({ ok: false, detail: expect.stringContaining('refused (28P01)') });
    const stale = await postgresChecks.postgres_login_old_refused!(ctxFor());
    expect(stale).toMatchObject({ ok: false, detail: expect.stringContaining('accepted') });
  });

  it('fails when the derived URL does not carry the new password, naming the file', async () => {
    await deployNewPassword();
    await store.write('apiDatabaseUrl', `postgres://caracalapi:${old}@postgres:5432/caracal`);
    const fresh = await postgresChecks.postgres_login_new!(ctxFor());
    expect(fresh.ok).toBe(false);
    expect(fresh.detail).toMatch(/accepted; apiDatabaseUrl does not carry that password/);
  });

  it('fails when the file does not hold the rotation\'s current material', async () => {
    const fresh = await postgresChecks.postgres_login_new!(ctxFor());
    expect(fresh).toEqual({ ok: false, detail: `apiDbPassword holds kid ${keyIdOf(old)}, but the rotation's current material is kid ${keyIdOf(next)}` });
  });

  it('after a rollback (current = old, other = the abandoned new one) both checks hold the other way round', async () => {
    await deployNewPassword();
    await store.recordVersion('apiDbPassword', next, { rotationId, phase: 'new' });
    await setPassword(old);
    await store.write('apiDbPassword', old);
    await store.write('apiDatabaseUrl', `postgres://caracalapi:${old}@postgres:5432/caracal`);
    const ctx = ctxFor({ phase: 'rollback', currentKid: keyIdOf(old), otherKid: keyIdOf(next) });
    expect((await postgresChecks.postgres_login_new!(ctx)).ok).toBe(true);
    expect((await postgresChecks.postgres_login_old_refused!(ctx)).ok).toBe(true);
  });

  it('fails without throwing when the server is unreachable, and says no previous password when there is none', async () => {
    await deployNewPassword();
    const url = new URL(server.adminUrl);
    url.port = '1';
    await store.write('postgresAdminUrl', url.toString());
    expect(await postgresChecks.postgres_login_new!(ctxFor())).toMatchObject({ ok: false, detail: expect.stringContaining('refused (ECONNREFUSED)') });
    expect(await postgresChecks.postgres_login_old_refused!(ctxFor({ otherKid: undefined }))).toMatchObject({ ok: false, detail: expect.stringContaining('no previous password') });
  });

  it('never puts a password into a detail', async () => {
    await deployNewPassword();
    const adminPassword = new URL(server.adminUrl).password;
    const outcomes = [
      await postgresChecks.postgres_login_new!(ctxFor()),
      await postgresChecks.postgres_login_old_refused!(ctxFor()),
      ...(await runChecks(['postgres_login_new', 'postgres_login_old_refused'], CHECKS, ctxFor({ plan: { ...plan, role: undefined } }))),
    ];
    await setPassword(old);
    outcomes.push(await postgresChecks.postgres_login_new!(ctxFor()), await postgresChecks.postgres_login_old_refused!(ctxFor()));
    for (const outcome of outcomes) {
      for (const secret of [old, next, adminPassword]) expect(outcome.detail).not.toContain(secret);
    }
  });
});
