import { rm } from 'node:fs/promises';
import { DEFAULT_CATALOG, catalogEntry, holdersConfigSchema, newRotationId, type Plan } from '@caracal-rotation/contracts';
import { buildPlan, validateRequest } from '@caracal-rotation/planning';
import { FileSecretStore, keyIdOf } from '@caracal-rotation/secrets';
import { startPrivateRedis, tempSecretsDir, type PrivateRedis } from '@caracal-rotation/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WriteContext } from './material-writer.js';
import { RedisPasswordWriter } from './redis-password-writer.js';

const OLD = 'ab'.repeat(24);
let redis: PrivateRedis;
let dir: string;
let store: FileSecretStore;
let plan: Plan;

/** AUTH as the default user with `password`: 'ok', or the server's refusal. */
async function auth(password: string): Promise<string> {
  const client = new Redis(redis.url.replace(/:[^:@/]*@/, '@'), { protocol: 2, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.call('AUTH', password);
    return (await client.ping()) === 'PONG' ? 'ok' : 'no pong';
  } catch (err) {
    return (err as Error).message.split(' ')[0]!;
  } finally {
    client.disconnect();
  }
}

beforeAll(async () => {
  redis = await startPrivateRedis('redis-password', { password: OLD });
  dir = await tempSecretsDir({ redisPassword: OLD, redisUrl: redis.url });
  store = new FileSecretStore({ dir });
  const verdict = validateRequest({ material: 'REDIS_PASSWORD', reason: 'test' }, DEFAULT_CATALOG);
  if (!verdict.ok) throw new Error(verdict.message);
  plan = buildPlan(verdict.request, { requestedAt: new Date().toISOString(), actor: 'a', streamPrefix: 'p', holders: holdersConfigSchema.parse({ version: 2, services: {}, redis: {} }) });
});

afterAll(async () => {
  await redis.destroy();
  await rm(dir, { recursive: true, force: true });
});

const ctx = (rotationId: string): WriteContext => ({ rotationId, plan, entry: catalogEntry(DEFAULT_CATALOG, 'REDIS_PASSWORD')!, state: { applied: [], outcomes: {} }, note: async () => undefined });

describe('redis-password writer (requirepass, the default user)', () => {
  it('keeps both passwords valid during the overlap, drops the old one at retirement, and follows the URL file', async () => {
    const writer = new RedisPasswordWriter(store, { admin_url_file: 'redisUrl' });
    const id = newRotationId();
    const deployed = await writer.write('deploy', ctx(id));
    const next = (await store.read('redisPassword'))!;
    expect(next).not.toBe(OLD);
    expect(deployed).toMatchObject({ new: { kid: keyIdOf(next) }, previous: { kid: keyIdOf(OLD) }, changed: true });
    expect(await store.read('redisUrl')).toBe(redis.url.replace(OLD, next));
    expect(await auth(next)).toBe('ok');
    expect(await auth(OLD)).toBe('ok');

    await writer.write('retire', ctx(id));
    expect(await auth(next)).toBe('ok');
    expect(await auth(OLD)).toBe('WRONGPASS');
  });

  it('rolls back: the new password goes, the old one and the files are as before', async () => {
    const writer = new RedisPasswordWriter(store, { admin_url_file: 'redisUrl' });
    const before = (await store.read('redisPassword'))!;
    const url = await store.read('redisUrl');
    const id = newRotationId();
    await writer.write('deploy', ctx(id));
    const next = (await store.read('redisPassword'))!;
    await writer.write('rollback', ctx(id));
    expect(await store.read('redisPassword')).toBe(before);
    expect(await store.read('redisUrl')).toBe(url);
    expect(await auth(before)).toBe('ok');
    expect(await auth(next)).toBe('WRONGPASS');
  });

  it('refuses, without quoting any password, when no password it knows is accepted', async () => {
    await store.write('redisUrl', redis.url.replace(/:[^:@/]*@/, `:${'cd'.repeat(24)}@`));
    await store.write('redisPassword', 'cd'.repeat(24));
    const err = await new RedisPasswordWriter(store, { admin_url_file: 'redisUrl' }).write('deploy', ctx(newRotationId())).catch((e: Error) => e);
    expect(String(err)).toMatch(/cannot authenticate to Caracal's Redis/);
    expect(String(err)).not.toMatch(/[0-9a-f]{48}/);
  });
});
