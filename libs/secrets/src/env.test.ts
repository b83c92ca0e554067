import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretsError, readSecretFromEnv } from './index.js';

const VALUE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';

describe('readSecretFromEnv', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'secrets-env-'));
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('returns NAME when set', () => {
    expect(readSecretFromEnv('STREAMS_HMAC_KEY', { STREAMS_HMAC_KEY: VALUE })).toBe(VALUE);
  });

  it('returns undefined when neither NAME nor NAME_FILE is set (empty counts as unset)', () => {
    expect(readSecretFromEnv('STREAMS_HMAC_KEY', {})).toBeUndefined();
    expect(readSecretFromEnv('STREAMS_HMAC_KEY', { STREAMS_HMAC_KEY: '', STREAMS_HMAC_KEY_FILE: '' })).toBeUndefined();
  });

  it('reads NAME_FILE and strips trailing newlines', async () => {
    const file = path.join(tmp, 'streamsHmacKey');
    await writeFile(file, `${VALUE}\n\n`);
    expect(readSecretFromEnv('STREAMS_HMAC_KEY', { STREAMS_HMAC_KEY_FILE: file })).toBe(VALUE);
    await writeFile(file, `${VALUE}\r\n`);
    expect(readSecretFromEnv('STREAMS_HMAC_KEY', { STREAMS_HMAC_KEY_FILE: file })).toBe(VALUE);
    await writeFile(file, VALUE);
    expect(readSecretFromEnv('STREAMS_HMAC_KEY', { STREAMS_HMAC_KEY_FILE: file })).toBe(VALUE);
  });

  it('refuses both NAME and NAME_FILE, naming both variables', async () => {
    const file = path.join(tmp, 'streamsHmacKey');
    await writeFile(file, VALUE);
    const call = () => readSecretFromEnv('STREAMS_HMAC_KEY', { STREAMS_HMAC_KEY: VALUE, STREAMS_HMAC_KEY_FILE: file });
    expect(call).toThrow(SecretsError);
    expect(call).toThrow(/STREAMS_HMAC_KEY and STREAMS_HMAC_KEY_FILE/);
  });

  it('reports a missing NAME_FILE with the variable and the path', () => {
    const file = path.join(tmp, 'absent');
    let caught: unknown;
    try {
      readSecretFromEnv('REDIS_PASSWORD', { REDIS_PASSWORD_FILE: file });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SecretsError);
    expect((caught as SecretsError).code).toBe('secret_file_missing');
    expect((caught as Error).message).toContain('REDIS_PASSWORD_FILE');
    expect((caught as Error).message).toContain(file);
  });

  it('refuses an empty NAME_FILE, as Caracal does', async () => {
    const file = path.join(tmp, 'empty');
    await writeFile(file, '\n');
    expect(() => readSecretFromEnv('REDIS_PASSWORD', { REDIS_PASSWORD_FILE: file })).toThrow(/REDIS_PASSWORD_FILE names .* which is empty/);
  });

  it('reports an unreadable NAME_FILE (a directory) by variable and path', () => {
    expect(() => readSecretFromEnv('REDIS_PASSWORD', { REDIS_PASSWORD_FILE: tmp })).toThrow(/REDIS_PASSWORD_FILE names .* cannot be read \(EISDIR\)/);
  });
});
