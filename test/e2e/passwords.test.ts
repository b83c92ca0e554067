import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRedis } from '@caracal-rotation/bus';
import { getRotation } from '@caracal-rotation/projection';
import { readStream, uniqueName } from '@caracal-rotation/testing';
import pg from 'pg';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';

const aclUser = uniqueName('e2e-acl');
let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('passwords', { stores: { postgres: true, redisAclUser: aclUser } });
}, 180_000);
afterAll(async () => e2e?.stop(), 60_000);

const secret = async (name: string) => (await readFile(join(e2e.secretsDir, name), 'utf8')).trim();

async function pgLogin(url: string): Promise<'ok' | string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function redisAuth(password: string): Promise<'ok' | string> {
  const redis = createRedis(process.env.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.auth(aclUser, password);
    return 'ok';
  } catch (err) {
    return String((err as Error).message).split(' ')[0]!;
  } finally {
    redis.disconnect();
  }
}

it('rotates a Postgres role password: the new one logs in, the old one is refused, the URL file follows', async () => {
  const oldPassword = await secret('apiDbPassword');
  const oldUrl = await secret('apiDatabaseUrl');
  expect(await pgLogin(oldUrl)).toBe('ok');

  const { id, outcome } = await e2e.rotate({ material: 'POSTGRES_PASSWORD', role: 'api' });
  expect(outcome).toBe('completed');

  const newPassword = await secret('apiDbPassword');
  const newUrl = await secret('apiDatabaseUrl');
  expect(newPassword).not.toBe(oldPassword);
  expect(newUrl).toContain(newPassword);
  expect(await pgLogin(newUrl)).toBe('ok');
  expect(await pgLogin(oldUrl)).toBe('28P01');

  const rolled = (await readStream(e2e.redis, e2e.operator.streams.rolled)).filter((r) => r.fields.rotation_id === id && r.data.phase === 'deploy');
  expect((rolled[0]!.data.holders as { service: string; ok: boolean }[]).map((h) => [h.service, h.ok])).toEqual([['api', true]]);
  await vi.waitFor(async () => expect(await getRotation(e2e.pool, id)).toMatchObject({ state: 'completed', role: 'api' }), { timeout: 10_000 });
}, 120_000);

it('rotates the Redis password through two ACL passwords: both work during the overlap, the old fails after retirement', async () => {
  const oldPassword = await secret('redisPassword');
  expect(await redisAuth(oldPassword)).toBe('ok');

  const { id, outcome } = await e2e.rotate({ material: 'REDIS_PASSWORD' });
  expect(outcome).toBe('completed');

  const newPassword = await secret('redisPassword');
  expect(newPassword).not.toBe(oldPassword);
  expect(await secret('redisUrl')).toContain(newPassword);
  expect(await redisAuth(newPassword)).toBe('ok');
  expect(await redisAuth(oldPassword)).toBe('WRONGPASS');

  const verified = (await readStream(e2e.redis, e2e.operator.streams.verified)).filter((v) => v.fields.rotation_id === id);
  expect(verified.map((v) => [v.data.phase, v.data.ok])).toEqual([
    ['stage', true],
    ['deploy', true],
    ['retire', true],
  ]);
}, 180_000);
