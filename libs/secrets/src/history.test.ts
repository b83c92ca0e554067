import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HISTORY_DIR, FileSecretStore, SecretsError, generateKeyHex, keyIdOf } from './index.js';

const KEY = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const ROT = '01980000-0000-7000-8000-000000000001';

describe('version history', () => {
  let tmp: string;
  let dir: string;
  let store: FileSecretStore;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'secrets-history-'));
    dir = path.join(tmp, 'secrets');
    store = new FileSecretStore({ dir });
    await store.ensureDir();
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('records, lists (without values) and reads versions', async () => {
    const next = generateKeyHex();
    const first = await store.recordVersion('streamsHmacKey', KEY, { rotationId: ROT, phase: 'deploy' });
    const second = await store.recordVersion('streamsHmacKey', next, { rotationId: ROT, phase: 'retire' });
    expect(first).toMatchObject({ name: 'streamsHmacKey', seq: 1, kid: '2f0ea5fb355bfdf5', rotationId: ROT, phase: 'deploy', recorded: true });
    expect(second).toMatchObject({ seq: 2, kid: keyIdOf(next), phase: 'retire', recorded: true });

    const list = await store.listVersions('streamsHmacKey');
    expect(list.map((v) => [v.seq, v.kid, v.phase])).toEqual([
      [1, '2f0ea5fb355bfdf5', 'deploy'],
      [2, keyIdOf(next), 'retire'],
    ]);
    expect(JSON.stringify(list)).not.toContain(KEY);
    expect(JSON.stringify(list)).not.toContain(next);
    for (const v of list) expect(Number.isNaN(Date.parse(v.recordedAt))).toBe(false);

    expect(await store.readVersion('streamsHmacKey', '2f0ea5fb355bfdf5')).toBe(KEY);
    expect(await store.readVersion('streamsHmacKey', keyIdOf(next))).toBe(next);
    expect(await store.readVersion('streamsHmacKey', '0000000000000000')).toBeUndefined();
    expect(await store.readVersion('auditHmacKey', '2f0ea5fb355bfdf5')).toBeUndefined();
    expect(await store.listVersions('auditHmacKey')).toEqual([]);
  });

  it('lays files out as documented, with private modes', async () => {
    const { location: file } = await store.recordVersion('streamsHmacKey', KEY, { rotationId: ROT, phase: 'deploy' });
    const history = path.join(dir, HISTORY_DIR);
    expect(path.dirname(file)).toBe(path.join(history, 'streamsHmacKey'));
    expect(path.basename(file)).toBe('000001.json');
    expect((await stat(history)).mode & 0o777).toBe(0o700);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o400);
    const body = JSON.parse(await readFile(file, 'utf8'));
    expect(Object.keys(body).sort()).toEqual(['kid', 'phase', 'recordedAt', 'rotationId', 'value']);
    expect(body).toMatchObject({ value: KEY, kid: '2f0ea5fb355bfdf5', rotationId: ROT, phase: 'deploy' });
    expect(await readdir(path.dirname(file))).toEqual([path.basename(file)]);
  });

  it('is never visible as a secret', async () => {
    await store.recordVersion('streamsHmacKey', KEY, { rotationId: ROT, phase: 'deploy' });
    await expect(store.read(HISTORY_DIR)).rejects.toMatchObject({ code: 'invalid_name' });
    await expect(store.write(HISTORY_DIR, KEY)).rejects.toMatchObject({ code: 'invalid_name' });
    await expect(store.remove(HISTORY_DIR)).rejects.toMatchObject({ code: 'invalid_name' });
  });

  it('records a retried step once', async () => {
    const a = await store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'deploy' });
    const b = await store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'deploy' });
    expect(a.recorded).toBe(true);
    expect(b.recorded).toBe(false);
    expect(b).toMatchObject({ seq: a.seq, kid: a.kid, recordedAt: a.recordedAt, location: a.location });
    expect(await store.listVersions('auditHmacKey')).toHaveLength(1);
    expect(await store.findVersion('auditHmacKey', { rotationId: ROT, phase: 'deploy' })).toMatchObject({ seq: 1, kid: a.kid });
    expect(await store.findVersion('auditHmacKey', { rotationId: ROT, phase: 'retire' })).toBeUndefined();
  });

  it('keeps steps of different secrets apart', async () => {
    await store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'deploy' });
    const other = await store.recordVersion('streamsHmacKey', KEY, { rotationId: ROT, phase: 'deploy' });
    expect(other).toMatchObject({ seq: 1, recorded: true });
  });

  it('refuses a different value for an already recorded step', async () => {
    await store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'deploy' });
    await expect(store.recordVersion('auditHmacKey', generateKeyHex(), { rotationId: ROT, phase: 'deploy' })).rejects.toMatchObject({
      code: 'history_conflict',
    });
  });

  it('records a concurrently retried step exactly once, and distinct steps with contiguous numbers', async () => {
    const same = await Promise.all(
      Array.from({ length: 20 }, () => store.recordVersion('redisPassword', KEY, { rotationId: ROT, phase: 'deploy' })),
    );
    expect(same.filter((r) => r.recorded)).toHaveLength(1);
    expect(new Set(same.map((r) => r.location)).size).toBe(1);

    const values = Array.from({ length: 30 }, () => generateKeyHex(24));
    const distinct = await Promise.all(
      values.map((v, i) => store.recordVersion('redisPassword', v, { rotationId: `rot-${i}`, phase: 'deploy' })),
    );
    expect(distinct.every((r) => r.recorded)).toBe(true);
    expect(distinct.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));

    const files = await readdir(path.join(dir, HISTORY_DIR, 'redisPassword'));
    expect(files).toHaveLength(31);
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]);
    for (const [i, v] of values.entries()) {
      expect(await store.readVersion('redisPassword', keyIdOf(v))).toBe(v);
      expect(distinct[i]?.kid).toBe(keyIdOf(v));
    }
  });

  it('returns the newest version when a value was recorded again (rollback)', async () => {
    const next = generateKeyHex();
    await store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'deploy' });
    await store.recordVersion('auditHmacKey', next, { rotationId: 'rot-2', phase: 'deploy' });
    const rollback = await store.recordVersion('auditHmacKey', KEY, { rotationId: 'rot-2', phase: 'rollback' });
    expect(rollback.seq).toBe(3);
    expect(await store.readVersion('auditHmacKey', keyIdOf(KEY))).toBe(KEY);
  });

  it('stores non-hex derived values under their fingerprint', async () => {
    const url = 'redis://:pw@redis:6379';
    const r = await store.recordVersion('redisUrl', url, { rotationId: ROT, phase: 'deploy' });
    expect(r.kid).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(await store.readVersion('redisUrl', r.kid)).toBe(url);
    expect((await store.listVersions('redisUrl'))[0]?.kid).toBe(r.kid);
  });

  it('refuses a loose or symlinked history directory', async () => {
    const history = path.join(dir, HISTORY_DIR);
    await mkdir(history, { mode: 0o700 });
    await chmod(history, 0o755);
    await expect(store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'deploy' })).rejects.toMatchObject({
      code: 'unsafe_store',
      reason: 'permissions',
    });
    await expect(store.listVersions('auditHmacKey')).rejects.toMatchObject({ code: 'unsafe_store' });
    await rm(history, { recursive: true });

    const elsewhere = path.join(tmp, 'elsewhere');
    await mkdir(elsewhere, { mode: 0o700 });
    await symlink(elsewhere, history);
    await expect(store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'deploy' })).rejects.toMatchObject({
      code: 'unsafe_store',
      reason: 'not_directory',
    });
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('validates names and step metadata', async () => {
    await expect(store.recordVersion('../x', KEY, { rotationId: ROT, phase: 'deploy' })).rejects.toBeInstanceOf(SecretsError);
    await expect(store.recordVersion('auditHmacKey', KEY, { rotationId: '', phase: 'deploy' })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(store.listVersions('a/b')).rejects.toMatchObject({ code: 'invalid_name' });
  });
});
