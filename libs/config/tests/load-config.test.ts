import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, commonServiceSchema, databaseUrl, loadConfig, port, redisUrl } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, contents: string): string {
  const path = join(dir, name);
  writeFileSync(path, contents);
  return path;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the common defaults to an empty environment', () => {
    const config = loadConfig(commonServiceSchema, {});
    expect(config).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      LOG_LEVEL: 'info',
      HTTP_PORT: 0,
      HTTP_HOST: '127.0.0.1',
      STREAM_PREFIX: 'caracal.rotation',
      CONSUMER_BATCH: 64,
      CONSUMER_BLOCK_MS: 1000,
      CLAIM_IDLE_MS: 30_000,
      MAX_DELIVERIES: 5,
      MAX_IN_FLIGHT: 256,
    });
    expect(config.INSTANCE_ID).toBe(`${hostname()}-${process.pid}`);
    expect(config.CARACAL_SECRETS_DIR).toBeUndefined();
  });

  it('reads the environment and converts types', () => {
    const config = loadConfig(commonServiceSchema, {
      REDIS_URL: 'redis://redis:6380/3',
      LOG_LEVEL: 'DEBUG',
      HTTP_PORT: '9464',
      CLAIM_IDLE_MS: '2m',
      CARACAL_SECRETS_DIR: '/run/secrets',
      UNRELATED: 'ignored',
    });
    expect(config.REDIS_URL).toBe('redis://redis:6380/3');
    expect(config.LOG_LEVEL).toBe('debug');
    expect(config.HTTP_PORT).toBe(9464);
    expect(config.CLAIM_IDLE_MS).toBe(120_000);
    expect(config.CARACAL_SECRETS_DIR).toBe('/run/secrets');
    expect(config).not.toHaveProperty('UNRELATED');
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig(commonServiceSchema, { HTTP_PORT: '' }).HTTP_PORT).toBe(0);
  });

  it('extends for one service', () => {
    const schema = commonServiceSchema.extend({ DATABASE_URL: databaseUrl() });
    expect(loadConfig(schema, {}).DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/caracal_rotation');
  });

  it('reads NAME_FILE, stripping the trailing newline', () => {
    const schema = z.object({ API_TOKEN: z.string(), REDIS_URL: redisUrl() });
    const config = loadConfig(schema, {
      API_TOKEN_FILE: file('token', 'abc123\n'),
      REDIS_URL_FILE: file('redis', 'redis://:pw@redis:6379\r\n'),
    });
    expect(config.API_TOKEN).toBe('abc123');
    expect(config.REDIS_URL).toBe('redis://:pw@redis:6379');
  });

  it('refuses NAME and NAME_FILE set together', () => {
    const schema = z.object({ API_TOKEN: z.string() });
    const err = configError(() => loadConfig(schema, { API_TOKEN: 'a', API_TOKEN_FILE: file('both', 'b') }));
    expect(err.issues).toEqual([{ variable: 'API_TOKEN', problem: 'both API_TOKEN and API_TOKEN_FILE are set; set only one' }]);
  });

  it('reports an unreadable NAME_FILE under its own name', () => {
    const schema = z.object({ API_TOKEN: z.string() });
    const err = configError(() => loadConfig(schema, { API_TOKEN_FILE: join(dir, 'missing') }));
    expect(err.issues).toEqual([{ variable: 'API_TOKEN_FILE', problem: 'cannot read the file it names (ENOENT)' }]);
  });

  it('lists every bad variable in one error', () => {
    const err = configError(() =>
      loadConfig(commonServiceSchema, { REDIS_URL: 'http://nope', HTTP_PORT: '70000', CONSUMER_BLOCK_MS: 'soon' }),
    );
    expect(err.issues.map((i) => i.variable).sort()).toEqual(['CONSUMER_BLOCK_MS', 'HTTP_PORT', 'REDIS_URL']);
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('Invalid configuration (3 problems):');
    expect(lines).toHaveLength(4);
    expect(err.message).toContain('REDIS_URL: must be a redis:// or rediss:// URL');
    expect(err.message).toContain('HTTP_PORT: must be an integer port between 0 and 65535');
    expect(err.message).toContain('CONSUMER_BLOCK_MS: must be a duration');
  });

  it('names a missing required variable', () => {
    const err = configError(() => loadConfig(z.object({ API_TOKEN: z.string(), P: port(1) }), {}));
    expect(err.issues).toEqual([{ variable: 'API_TOKEN', problem: 'is required but not set' }]);
  });

  it('never puts a secret-looking value in the message', () => {
    const secret = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
    const schema = z.object({
      REDIS_URL: redisUrl(),
      STREAMS_HMAC_KEY: z.string().regex(/^[0-9a-f]{64,}$/),
      ADMIN_TOKEN: z.string().min(100),
      LEAKY: z.string().refine(() => false, { message: `bad value ${secret}` }),
    });
    const err = configError(() =>
      loadConfig(schema, {
        REDIS_URL: `redis://:${secret}@redis:notaport`,
        STREAMS_HMAC_KEY: `${secret}ZZ`,
        ADMIN_TOKEN: secret,
        LEAKY: secret,
      }),
    );
    expect(err.issues).toHaveLength(4);
    expect(err.message).not.toContain(secret);
    expect(err.message).not.toContain(secret.slice(0, 16));
    expect(JSON.stringify(err.issues)).not.toContain(secret);
  });
});
