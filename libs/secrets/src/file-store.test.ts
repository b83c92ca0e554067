import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSecretStore, SecretsError, generateKeyHex, keyIdOf } from './index.js';

const KEY = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';

describe('FileSecretStore', () => {
  let tmp: string;
  let dir: string;
  let store: FileSecretStore;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'secrets-store-'));
    dir = path.join(tmp, 'caracal', 'secrets');
    store = new FileSecretStore({ dir });
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('ensureDir creates the directory with mode 0700', async () => {
    await store.ensureDir();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    await store.ensureDir(); // idempotent
  });

  it('writes atomically: 0444 file, exact content, key id, no temp files left', async () => {
    await store.ensureDir();
    const result = await store.write('streamsHmacKey', KEY);
    expect(result).toEqual({ location: path.join(dir, 'streamsHmacKey'), path: path.join(dir, 'streamsHmacKey'), kid: '2f0ea5fb355bfdf5' });
    expect(store.location('streamsHmacKey')).toBe(result.location);
    expect((await stat(result.path)).mode & 0o777).toBe(0o444);
    expect(await readFile(result.path, 'utf8')).toBe(KEY);
    expect(await store.read('streamsHmacKey')).toBe(KEY);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readdir(dir)).toEqual(['streamsHmacKey']);
  });

  it('replaces an existing (read-only) file', async () => {
    await store.ensureDir();
    await store.write('auditHmacKey', KEY);
    const next = generateKeyHex();
    const { kid } = await store.write('auditHmacKey', next);
    expect(kid).toBe(keyIdOf(next));
    expect(await store.read('auditHmacKey')).toBe(next);
    expect((await stat(store.pathOf('auditHmacKey'))).mode & 0o777).toBe(0o444);
  });

  it('reads undefined for an absent secret and strips a hand-added newline', async () => {
    await store.ensureDir();
    expect(await store.read('redisPassword')).toBeUndefined();
    await writeFile(path.join(dir, 'redisPassword'), `${KEY}\n`);
    expect(await store.read('redisPassword')).toBe(KEY);
  });

  it('removes idempotently', async () => {
    await store.ensureDir();
    await store.write('streamsHmacKeyPrevious', KEY);
    await store.remove('streamsHmacKeyPrevious');
    expect(await store.read('streamsHmacKeyPrevious')).toBeUndefined();
    await store.remove('streamsHmacKeyPrevious');
    expect(await readdir(dir)).toEqual([]);
  });

  it('names the previous file', () => {
    expect(store.previousName('streamsHmacKey')).toBe('streamsHmacKeyPrevious');
    expect(store.pathOf('streamsHmacKeyPrevious')).toBe(path.join(dir, 'streamsHmacKeyPrevious'));
  });

  it('refuses unsafe names', async () => {
    await store.ensureDir();
    for (const bad of ['', '../etc', 'a/b', '.history', '9lives', 'with-dash', 'dot.name', 'x'.repeat(200)]) {
      await expect(store.write(bad, KEY)).rejects.toMatchObject({ code: 'invalid_name' });
      await expect(store.read(bad)).rejects.toBeInstanceOf(SecretsError);
      expect(() => store.pathOf(bad)).toThrow(SecretsError);
    }
  });

  it('refuses empty values and values ending in whitespace', async () => {
    await store.ensureDir();
    await expect(store.write('redisPassword', '')).rejects.toMatchObject({ code: 'invalid_value' });
    await expect(store.write('redisPassword', `${KEY}\n`)).rejects.toMatchObject({ code: 'invalid_value' });
  });

  it('gives derived, non-hex files a fingerprint as id', async () => {
    await store.ensureDir();
    const { kid } = await store.write('redisUrl', 'redis://:pw@redis:6379');
    expect(kid).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it('refuses to write before the directory exists', async () => {
    await expect(store.write('streamsHmacKey', KEY)).rejects.toMatchObject({ code: 'unsafe_store', reason: 'missing' });
  });

  it('cleans up its temp file when the rename fails', async () => {
    await store.ensureDir();
    // A directory where the file should go makes rename(2) fail with EISDIR.
    await mkdir(path.join(dir, 'streamsHmacKey'));
    await expect(store.write('streamsHmacKey', KEY)).rejects.toMatchObject({ code: 'EISDIR' });
    expect(await readdir(dir)).toEqual(['streamsHmacKey']);
  });

  it('survives 50 concurrent writers of one name: readers never see partial or mixed content', async () => {
    await store.ensureDir();
    const file = path.join(dir, 'streamsHmacKey');
    const rounds = 10;
    const batches = Array.from({ length: rounds }, () => Array.from({ length: 50 }, () => generateKeyHex(32)));
    const valid = new Set(batches.flat());

    // A reader in another process, spinning on synchronous reads, runs truly
    // in parallel with the writers and catches short windows (a truncated or
    // half-written file) that an in-process reader would rarely hit.
    const spinner = startSpinningReader(file, [...valid]);
    await spinner.ready;

    const observed: string[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const v = await store.read('streamsHmacKey');
        if (v !== undefined) observed.push(v);
      }
    })();

    for (const values of batches) {
      const results = await Promise.all(values.map((v) => store.write('streamsHmacKey', v)));
      expect(results.map((r) => r.kid)).toEqual(values.map((v) => keyIdOf(v)));
    }
    writing = false;
    await reader;
    const remote = await spinner.stop();

    expect(remote.invalid).toEqual([]);
    expect(remote.reads).toBeGreaterThan(0);
    expect(observed.length).toBeGreaterThan(0);
    for (const v of observed) expect(valid.has(v)).toBe(true);
    expect(batches.at(-1)).toContain(await readFile(file, 'utf8'));
    expect(await readdir(dir)).toEqual(['streamsHmacKey']);
    expect((await stat(file)).mode & 0o777).toBe(0o444);
  });
});

/**
 * Spawns `node` reading `file` in a tight synchronous loop until its stdin
 * closes; reports how many reads it made and every content that is not one of
 * `valid` (absent is fine: the first write has not landed yet).
 */
function startSpinningReader(file: string, valid: string[]): { ready: Promise<void>; stop: () => Promise<{ reads: number; invalid: string[] }> } {
  const script = `
    const fs = require('node:fs');
    const valid = new Set(JSON.parse(process.env.VALID));
    let stop = false, reads = 0;
    const invalid = [];
    process.stdin.on('end', () => { stop = true; });
    process.stdin.resume();
    process.stdout.write('ready\\n');
    (function spin() {
      const until = Date.now() + 20;
      while (Date.now() < until) {
        try {
          const v = fs.readFileSync(process.env.FILE, 'utf8');
          reads++;
          if (!valid.has(v) && invalid.length < 10) invalid.push(v);
        } catch (err) {
          if (err.code !== 'ENOENT') throw err;
        }
      }
      if (stop) process.stdout.write(JSON.stringify({ reads, invalid }) + '\\n');
      else setImmediate(spin);
    })();
  `;
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, FILE: file, VALID: JSON.stringify(valid) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.startsWith('ready\n')) onReady();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return {
    ready,
    stop: async () => {
      child.stdin.end();
      const code = await exited;
      expect(code).toBe(0);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      return JSON.parse(line ?? '{"reads":0,"invalid":["no report"]}') as { reads: number; invalid: string[] };
    },
  };
}
