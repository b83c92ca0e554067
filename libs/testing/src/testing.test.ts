import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteKeys, readStream, tempSecretsDir, testRedis, uniqueName } from './index.js';

describe('test isolation helpers', () => {
  it('never hands out the same name twice', () => {
    const names = new Set(Array.from({ length: 1000 }, () => uniqueName('t')));
    expect(names.size).toBe(1000);
  });

  it('makes a private secrets directory with a bus key, as the secret store would', async () => {
    const dir = await tempSecretsDir({ auditHmacKey: 'ab'.repeat(32) });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'streamsHmacKey'))).mode & 0o777).toBe(0o444);
    expect(await readFile(join(dir, 'streamsHmacKey'), 'utf8')).toMatch(/^[0-9a-f]{64}$/);
    expect(await readFile(join(dir, 'auditHmacKey'), 'utf8')).toBe('ab'.repeat(32));
  });

  it('reads streams with their data parsed and deletes only its own keys', async () => {
    const redis = testRedis();
    const prefix = uniqueName('t-testing');
    try {
      await redis.xadd(`${prefix}.s`, '*', 'data', JSON.stringify({ a: 1 }), 'x', 'y');
      await redis.set(`${prefix}-other`, '1');
      const [entry] = await readStream(redis, `${prefix}.s`);
      expect(entry).toMatchObject({ fields: { x: 'y' }, data: { a: 1 } });
      await deleteKeys(redis, `${prefix}.`);
      expect(await redis.exists(`${prefix}.s`)).toBe(0);
      expect(await redis.exists(`${prefix}-other`)).toBe(1);
    } finally {
      await redis.del(`${prefix}-other`);
      redis.disconnect();
    }
  });
});
