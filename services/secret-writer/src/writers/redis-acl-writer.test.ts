import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { newRotationId, redisAclTargetSchema, type Plan } from '@caracal-rotation/contracts';
import { bootstrapRedisAclUser, dropRedisAclUser } from '@caracal-rotation/sandbox';
import { keyIdOf, SecretStore } from '@caracal-rotation/secrets';
import { tempSecretsDir, testRedis } from '@caracal-rotation/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { aclPasswordHash, RedisAclWriter } from './redis-acl-writer.js';
import { WriteRefused } from './write-refused.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** One ACL user for this file; it is recreated before each test. */
const USER = `caracal-test-rw-${randomBytes(4).toString('hex')}`;
const target = redisAclTargetSchema.parse({ user: USER });
let redis: Redis;
let dir: string;
let store: SecretStore;
let writer: RedisAclWriter;

function planFor(overlap: 'dual' | 'none' = 'dual'): Plan {
  return {
    material: 'REDIS_PASSWORD',
    format: 'password24',
    overlap,
    writer: 'redis-acl',
    secret: { env: 'REDIS_PASSWORD', file: 'redisPassword', previous_file: 'redisPasswordPrevious' },
    derived: ['redisUrl'],
    phases: overlap === 'dual' ? ['stage', 'deploy', 'retire'] : ['deploy', 'retire'],
    holders: [{ service: 'api', roll_group: 0 }],
    checks: { stage: [], deploy: [], retire: [], rollback: [] },
    safety_window_ms: 0,
    drain: [],
    emergency: false,
    dry_run: false,
    warnings: [],
    requested: { actor: 'a', reason: 'r', requested_at: new Date().toISOString() },
  };
}

const read = (name: string) => readFile(join(dir, name), 'utf8').catch(() => undefined);

/** AUTH as the test user on a connection of its own: 'OK' or the Redis error code (WRONGPASS). */
async function auth(password: string): Promise<string> {
  const probe = redis.duplicate();
  try {
    return String(await probe.call('AUTH', USER, password));
  } catch (err) {
    return /^[A-Z]+/.exec((err as Error).message)?.[0] ?? 'error';
  } finally {
    probe.disconnect();
  }
}

async function passwordHashes(): Promise<string[]> {
  const reply = (await redis.call('ACL', 'GETUSER', USER)) as unknown[];
  return (reply[reply.indexOf('passwords') + 1] as string[]).slice().sort();
}

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
  await bootstrapRedisAclUser(REDIS_URL, dir, { user: USER, urlTemplate: target.url_template });
  store = new SecretStore({ dir });
  writer = new RedisAclWriter(store, target);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('redis-acl writer', () => {
  it('stages (both passwords work), deploys (files hold the new one), retires (the old one is refused)', async () => {
    const old = (await read('redisPassword'))!;
    const oldUrl = await read('redisUrl');
    const ctx = { rotationId: newRotationId(), plan: planFor() };

    const staged = await writer.write('stage', ctx);
    const next = (await store.readVersion('redisPassword', staged.new.kid))!;
    expect(next).toMatch(/^[0-9a-f]{48}$/);
    expect(staged).toEqual({ new: { kid: keyIdOf(next), location: join(dir, 'redisPassword') }, previous: { kid: keyIdOf(old) }, changed: true });
    expect(await auth(old)).toBe('OK');
    expect(await auth(next)).toBe('OK');
    expect(await read('redisPassword')).toBe(old);
    expect(await read('redisUrl')).toBe(oldUrl);
    expect(await passwordHashes()).toEqual([aclPasswordHash(old), aclPasswordHash(next)].sort());

    const deployed = await writer.write('deploy', ctx);
    expect(deployed).toEqual(staged);
    expect(await read('redisPassword')).toBe(next);
    expect(await read('redisUrl')).toBe(`redis://${USER}:${next}@redis:6379`);
    expect(await read('redisPasswordPrevious')).toBeUndefined();
    expect(await auth(old)).toBe('OK');
    expect(await auth(next)).toBe('OK');

    const retired = await writer.write('retire', ctx);
    expect(retired).toEqual(staged);
    expect(await auth(old)).toBe('WRONGPASS');
    expect(await auth(next)).toBe('OK');
    expect(await passwordHashes()).toEqual([aclPasswordHash(next)]);
  });

  it('repeats every phase without harm (same password, no error removing what is gone)', async () => {
    const old = (await read('redisPassword'))!;
    const ctx = { rotationId: newRotationId(), plan: planFor() };
    const first = await writer.write('stage', ctx);
    expect(await new RedisAclWriter(store, target).write('stage', ctx)).toEqual(first);
    await writer.write('deploy', ctx);
    await writer.write('deploy', ctx);
    await writer.write('retire', ctx);
    expect(await writer.write('retire', ctx)).toEqual(first);
    const next = (await read('redisPassword'))!;
    expect(keyIdOf(next)).toBe(first.new.kid);
    expect(await passwordHashes()).toEqual([aclPasswordHash(next)]);
    expect(await auth(old)).toBe('WRONGPASS');
  });

  it('rolls back after deploy: the new password is removed and the files are exactly as before', async () => {
    const old = (await read('redisPassword'))!;
    const oldUrl = await read('redisUrl');
    const ctx = { rotationId: newRotationId(), plan: planFor() };
    await writer.write('stage', ctx);
    await writer.write('deploy', ctx);
    const next = (await read('redisPassword'))!;

    const back = await writer.write('rollback', ctx);
    expect(back).toEqual({ new: { kid: keyIdOf(old), location: join(dir, 'redisPassword') }, previous: { kid: keyIdOf(next) }, changed: true });
    expect(await read('redisPassword')).toBe(old);
    expect(await read('redisUrl')).toBe(oldUrl);
    expect(await auth(next)).toBe('WRONGPASS');
    expect(await auth(old)).toBe('OK');
    expect(await passwordHashes()).toEqual([aclPasswordHash(old)]);
    await writer.write('rollback', ctx);
    expect(await auth(old)).toBe('OK');
  });

  it('rolls back after stage alone, and removes a derived file that did not exist before', async () => {
    await store.remove('redisUrl');
    const old = (await read('redisPassword'))!;
    const ctx = { rotationId: newRotationId(), plan: planFor() };
    const staged = await writer.write('stage', ctx);
    const next = (await store.readVersion('redisPassword', staged.new.kid))!;
    await writer.write('deploy', ctx);
    expect(await read('redisUrl')).toBeDefined();
    await writer.write('rollback', ctx);
    expect(await read('redisUrl')).toBeUndefined();
    expect(await auth(next)).toBe('WRONGPASS');
    expect(await auth(old)).toBe('OK');
  });

  it('adds the new password at deploy when there was no stage (overlap none)', async () => {
    const old = (await read('redisPassword'))!;
    const ctx = { rotationId: newRotationId(), plan: planFor('none') };
    await writer.write('deploy', ctx);
    const next = (await read('redisPassword'))!;
    expect(await auth(next)).toBe('OK');
    await writer.write('retire', ctx);
    expect(await auth(old)).toBe('WRONGPASS');
  });

  it('refuses a user that does not exist, naming it, and changes nothing', async () => {
    await dropRedisAclUser(REDIS_URL, USER);
    const old = await read('redisPassword');
    const attempt = writer.write('stage', { rotationId: newRotationId(), plan: planFor() });
    await expect(attempt).rejects.toThrow(WriteRefused);
    await expect(attempt).rejects.toThrow(`Redis ACL user ${USER} does not exist`);
    expect(await redis.call('ACL', 'GETUSER', USER)).toBeNull();
    expect(await read('redisPassword')).toBe(old);
  });

  it('refuses without an admin URL file', async () => {
    await store.remove('redisAdminUrl');
    await expect(writer.write('stage', { rotationId: newRotationId(), plan: planFor() })).rejects.toThrow(/redisAdminUrl is missing/);
  });
});

describe('no password leaks', () => {
  it('puts no password into an error or a file other than the secret files', async () => {
    const old = (await read('redisPassword'))!;
    const ctx = { rotationId: newRotationId(), plan: planFor() };
    await writer.write('stage', ctx);
    await writer.write('deploy', ctx);
    const next = (await read('redisPassword'))!;
    const secrets = [old, next];

    const errors: unknown[] = [];
    const capture = (p: Promise<unknown>) => p.then(() => expect.unreachable('should have failed'), (err: unknown) => errors.push(err));
    // An admin without ACL rights, an unreachable server, a missing user.
    const weak = `caracal-test-weak-${randomBytes(4).toString('hex')}`;
    const weakPassword = randomBytes(24).toString('hex');
    await redis.call('ACL', 'SETUSER', weak, 'on', `>${weakPassword}`, '~*', '+@read');
    try {
      const url = new URL(REDIS_URL);
      url.username = weak;
      url.password = weakPassword;
      await store.write('redisAdminUrl', url.toString());
      await capture(writer.write('rollback', ctx));
    } finally {
      await dropRedisAclUser(REDIS_URL, weak);
    }
    await store.write('redisAdminUrl', 'redis://127.0.0.1:1');
    await capture(writer.write('rollback', ctx));
    await store.write('redisAdminUrl', REDIS_URL);
    await dropRedisAclUser(REDIS_URL, USER);
    await capture(writer.write('rollback', ctx));

    expect(errors).toHaveLength(3);
    expect(errors[0]).toBeInstanceOf(WriteRefused);
    expect((errors[0] as Error).message).toMatch(/NOPERM/);
    expect((errors[1] as Error).message).toMatch(/ECONNREFUSED/);
    for (const err of errors) {
      const text = `${String(err)} ${(err as Error).stack ?? ''} ${JSON.stringify(err)}`;
      for (const secret of [...secrets, weakPassword]) expect(text).not.toContain(secret);
      expect((err as Error).cause).toBeUndefined();
    }

    const allowed = new Set(['redisPassword', 'redisUrl']);
    for (const file of await walk(dir)) {
      const name = relative(dir, file);
      if (allowed.has(name) || name.startsWith('.history/')) continue;
      const text = await readFile(file, 'utf8');
      for (const secret of secrets) expect(text, name).not.toContain(secret);
    }
  });
});

async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const full = join(root, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else out.push(full);
  }
  return out;
}
