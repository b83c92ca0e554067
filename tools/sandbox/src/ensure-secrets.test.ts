import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureSandboxSecrets } from './ensure-secrets.js';
import { SECRET_ENV_NAMES, SECRET_FILES } from './members.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-secrets-'));
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('ensureSandboxSecrets', () => {
  it('creates the directory 0700 and every secret as 0444 lowercase hex of 32 bytes', async () => {
    const dir = path.join(tmp, 'nested', 'secrets');
    expect(await ensureSandboxSecrets(dir)).toEqual(SECRET_ENV_NAMES);
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    for (const file of Object.values(SECRET_FILES)) {
      const stat = await fs.stat(path.join(dir, file));
      expect(stat.mode & 0o777).toBe(0o444);
      expect(await fs.readFile(path.join(dir, file), 'utf8')).toMatch(/^[0-9a-f]{64}$/);
    }
    expect((await fs.readdir(dir)).sort()).toEqual(Object.values(SECRET_FILES).sort());
  });

  it('never overwrites an existing secret', async () => {
    await fs.mkdir(tmp, { recursive: true });
    await fs.writeFile(path.join(tmp, 'streamsHmacKey'), 'ab'.repeat(32), { mode: 0o444 });
    const created = await ensureSandboxSecrets(tmp);
    expect(created).not.toContain('STREAMS_HMAC_KEY');
    expect(await fs.readFile(path.join(tmp, 'streamsHmacKey'), 'utf8')).toBe('ab'.repeat(32));
    expect(await ensureSandboxSecrets(tmp)).toEqual([]);
  });
});
