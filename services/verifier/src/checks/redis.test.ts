import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { caracalStreams, holdersConfigSchema, newRotationId, type HoldersConfig, type Plan } from '@caracal-rotation/contracts';
import { bootstrapRedisAclUser, dropRedisAclUser } from '@caracal-rotation/sandbox';
import { generatePasswordHex, keyIdOf, SecretStore } from '@caracal-rotation/secrets';
import { tempSecretsDir, testRedis } from '@caracal-rotation/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MaterialReader } from '../material-reader.js';
import { runChecks } from '../run-checks.js';
import type { CheckContext } from './context.js';
import { CHECKS } from './index.js';
import { redisChecks } from './redis.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const USER = `caracal-test-vc-${randomBytes(4).toString('hex')}`;
const holders: HoldersConfig = holdersConfigSchema.parse({ version: 1, holders: {}, redis_acl: { user: USER } });
let redis: Redis;
let dir: string;
let store: SecretStore;
let old: string;
let next: string;
let rotationId: string;

const plan: Plan = {
  material: 'REDIS_PASSWORD',
  format: 'password24',
  overlap: 'dual',
  writer: 'redis-acl',
  secret: { env: 'REDIS_PASSWORD', file: 'redisPassword', previous_file: 'redisPasswordPrevious' },
  derived: ['redisUrl'],
  phases: ['stage', 'deploy', 'retire'],
  holders: [],
  checks: { stage: [], deploy: ['redis_auth_new'], retire: ['redis_auth_old_refused'], rollback: [] },
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

/** What the redis-acl writer leaves after stage and deploy: both passwords on the user, the files on the new one. */
async function deployNewPassword(): Promise<void> {
  await store.recordVersion('redisPassword', old, { rotationId, phase: 'before' });
  await redis.call('ACL', 'SETUSER', USER, `>${next}`);
  await store.write('redisPassword', next);
  await store.write('redisUrl', `redis://${USER}:${next}@redis:6379`);
}
const retireOld = () => redis.call('ACL', 'SETUSER', USER, `!${createHash('sha256').update(old).digest('hex')}`);

beforeAll(() => {
  redis = testRedis();
});
afterAll(async () => {
  await dropRedisAclUser(REDIS_URL, USER);
  await redis?.quit();
});
beforeEach(async () => {
  await dropRedisAclUser(REDIS_URL, USER);
  dir = await tempSecretsDir();
  await bootstrapRedisAclUser(REDIS_URL, dir, { user: USER, urlTemplate: 'redis://{user}:{password}@redis:6379' });
  store = new SecretStore({ dir });
  old = (await store.read('redisPassword'))!;
  next = generatePasswordHex();
  rotationId = newRotationId();
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('redis checks', () => {
  it('during the overlap the new password works and the old one is still accepted', async () => {
    await deployNewPassword();
    expect(await redisChecks.redis_auth_new!(ctxFor())).toEqual({ ok: true, detail: `AUTH ${USER} with the password in redisPassword (kid ${keyIdOf(next)}): accepted` });
    expect(await redisChecks.redis_auth_old_refused!(ctxFor())).toEqual({ ok: false, detail: `AUTH ${USER} with the old password (kid ${keyIdOf(old)}): accepted` });
  });

  it('after retire the old password fails with WRONGPASS', async () => {
    await deployNewPassword();
    await retireOld();
    expect(await redisChecks.redis_auth_old_refused!(ctxFor({ phase: 'retire' }))).toEqual({
      ok: true,
      detail: `AUTH ${USER} with the old password (kid ${keyIdOf(old)}): refused (WRONGPASS)`,
    });
    const results = await runChecks(['redis_auth_new', 'redis_auth_old_refused'], CHECKS, ctxFor({ phase: 'retire' }));
    expect(results.map((r) => [r.name, r.ok])).toEqual([
      ['redis_auth_new', true],
      ['redis_auth_old_refused', true],
    ]);
  });

  it('fails when the user does not have the new password', async () => {
    await store.recordVersion('redisPassword', old, { rotationId, phase: 'before' });
    await store.write('redisPassword', next);
    await store.write('redisUrl', `redis://${USER}:${next}@redis:6379`);
    expect(await redisChecks.redis_auth_new!(ctxFor())).toMatchObject({ ok: false, detail: expect.stringContaining('refused (WRONGPASS)') });
  });

  it('fails when redisUrl does not carry the new password, or the file is not the current material', async () => {
    await deployNewPassword();
    await store.write('redisUrl', `redis://${USER}:${old}@redis:6379`);
    expect(await redisChecks.redis_auth_new!(ctxFor())).toMatchObject({ ok: false, detail: expect.stringContaining('redisUrl does not carry that password') });
    expect(await redisChecks.redis_auth_new!(ctxFor({ currentKid: keyIdOf(old) }))).toMatchObject({ ok: false, detail: expect.stringContaining('holds kid') });
  });

  it('fails (through the registry) when redis_acl is not configured, or Redis is unreachable', async () => {
    await deployNewPassword();
    const unconfigured = await runChecks(['redis_auth_new'], CHECKS, ctxFor({ holders: holdersConfigSchema.parse({ version: 1, holders: {} }) }));
    expect(unconfigured[0]).toMatchObject({ ok: false, detail: expect.stringContaining('redis_acl is not in CARACAL_HOLDERS') });
    await store.write('redisAdminUrl', 'redis://127.0.0.1:1');
    expect(await redisChecks.redis_auth_new!(ctxFor())).toMatchObject({ ok: false, detail: expect.stringContaining('refused (connect ECONNREFUSED)') });
  });

  it('never puts a password into a detail', async () => {
    await deployNewPassword();
    const outcomes = [await redisChecks.redis_auth_new!(ctxFor()), await redisChecks.redis_auth_old_refused!(ctxFor())];
    await retireOld();
    await redis.call('ACL', 'SETUSER', USER, 'resetpass');
    outcomes.push(await redisChecks.redis_auth_new!(ctxFor()), await redisChecks.redis_auth_old_refused!(ctxFor()));
    for (const outcome of outcomes) {
      for (const secret of [old, next]) expect(outcome.detail).not.toContain(secret);
    }
  });
});
