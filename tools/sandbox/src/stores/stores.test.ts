import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapPostgresRoles, bootstrapRedisAclUser, dropRedisAclUser } from './bootstrap.js';
import { startSandboxPostgres, type SandboxPostgres } from './postgres.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROLE_TEMPLATE = 'caracal{role}';
const DB_URL_TEMPLATE = 'postgres://{user}:{password}@postgres:5432/caracal';

let tmp: string;
let secretsDir: string;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-stores-'));
  secretsDir = path.join(tmp, 'secrets');
});
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const read = (name: string) => fs.readFile(path.join(secretsDir, name), 'utf8');
const mode = async (name: string) => (await fs.stat(path.join(secretsDir, name))).mode & 0o777;

/** The private server's address with another user and password. */
function loginUrl(adminUrl: string, user: string, password: string): string {
  const url = new URL(adminUrl);
  url.username = user;
  url.password = password;
  return url.toString();
}

async function loginCode(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    return String((err as { code?: unknown }).code ?? (err as Error).message);
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('private Postgres and role bootstrap', () => {
  let server: SandboxPostgres;
  beforeAll(async () => {
    server = await startSandboxPostgres();
    // Every statement goes to the server log, so the test can look for passwords there.
    const client = new pg.Client({ connectionString: server.adminUrl });
    await client.connect();
    await client.query(`ALTER SYSTEM SET log_statement = 'all'`);
    await client.query('SELECT pg_reload_conf()');
    await client.end();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('asks for a password: the superuser logs in with its own and is refused with another', async () => {
    expect(new URL(server.adminUrl).port).toBe(String(server.port));
    expect(await loginCode(server.adminUrl)).toBe('ok');
    expect(await loginCode(loginUrl(server.adminUrl, 'postgres', 'wrong'))).toBe('28P01');
  });

  it('creates each role with the password of its file and renders the derived files', async () => {
    const result = await bootstrapPostgresRoles(server.adminUrl, secretsDir, { roles: ['api', 'sts'], roleTemplate: ROLE_TEMPLATE, databaseUrlTemplate: DB_URL_TEMPLATE });
    expect(result.created).toEqual(['caracalapi', 'caracalsts']);
    const apiPassword = await read('apiDbPassword');
    expect(apiPassword).toMatch(/^[0-9a-f]{48}$/);
    expect(await mode('apiDbPassword')).toBe(0o444);
    expect(await mode('postgresAdminUrl')).toBe(0o444);
    expect(await read('postgresAdminUrl')).toBe(server.adminUrl);
    expect(await read('apiDatabaseUrl')).toBe(`postgres://caracalapi:${apiPassword}@postgres:5432/caracal`);
    expect(await loginCode(loginUrl(server.adminUrl, 'caracalapi', apiPassword))).toBe('ok');
    expect(await loginCode(loginUrl(server.adminUrl, 'caracalsts', apiPassword))).toBe('28P01');
    expect((await fs.stat(secretsDir)).mode & 0o777).toBe(0o700);
    expect(server.log()).toMatch(/CREATE ROLE "caracalapi" LOGIN PASSWORD 'SCRAM-SHA-256\$/);
    expect(server.log()).not.toContain(apiPassword);
  });

  it('keeps an existing password file and role on a second run', async () => {
    const before = await read('apiDbPassword');
    const again = await bootstrapPostgresRoles(server.adminUrl, secretsDir, { roles: ['api', 'sts'], roleTemplate: ROLE_TEMPLATE, databaseUrlTemplate: DB_URL_TEMPLATE });
    expect(again.created).toEqual([]);
    expect(await read('apiDbPassword')).toBe(before);
    expect(await loginCode(loginUrl(server.adminUrl, 'caracalapi', before))).toBe('ok');
    expect((await fs.readdir(secretsDir)).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('stops the server and removes its directories', async () => {
    const other = await startSandboxPostgres();
    expect((await fs.stat(other.dir)).isDirectory()).toBe(true);
    await other.stop();
    await other.stop();
    await expect(fs.stat(other.dir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await loginCode(other.adminUrl)).toMatch(/ECONNREFUSED/);
  });
});

describe('Redis ACL user bootstrap', () => {
  const user = `caracal-test-${randomBytes(4).toString('hex')}`;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { protocol: 2, maxRetriesPerRequest: 3 });
  });
  afterAll(async () => {
    await dropRedisAclUser(REDIS_URL, user);
    await redis?.quit();
  });

  it('creates the user with the password of redisPassword and writes redisUrl and redisAdminUrl', async () => {
    expect(await bootstrapRedisAclUser(REDIS_URL, secretsDir, { user, urlTemplate: 'redis://{user}:{password}@redis:6379' })).toEqual({ created: true });
    const password = await read('redisPassword');
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    expect(await read('redisUrl')).toBe(`redis://${user}:${password}@redis:6379`);
    expect(await read('redisAdminUrl')).toBe(REDIS_URL);
    const probe = redis.duplicate();
    try {
      expect(await probe.call('AUTH', user, password)).toBe('OK');
      await expect(probe.call('AUTH', user, 'nope')).rejects.toThrow(/WRONGPASS/);
    } finally {
      probe.disconnect();
    }
    expect(await bootstrapRedisAclUser(REDIS_URL, secretsDir, { user, urlTemplate: 'redis://{user}:{password}@redis:6379' })).toEqual({ created: false });
  });

  it('drops the user and never touches the default user', async () => {
    await dropRedisAclUser(REDIS_URL, user);
    expect(await redis.call('ACL', 'GETUSER', user)).toBeNull();
    await dropRedisAclUser(REDIS_URL, user);
    await expect(dropRedisAclUser(REDIS_URL, 'default')).rejects.toThrow(/default user/);
    await expect(bootstrapRedisAclUser(REDIS_URL, secretsDir, { user: 'default', urlTemplate: 'redis://{password}@x' })).rejects.toThrow(/default user/);
  });
});
