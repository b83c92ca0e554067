import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSecretStore, HISTORY_DIR, RECORDS_DIR, RecordConflictError, type StoredRotationRecord } from './index.js';

const ROT = '01980000-0000-7000-8000-0000000000aa';

describe('rotation records in files', () => {
  let tmp: string;
  let dir: string;
  let store: FileSecretStore;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'secrets-records-'));
    dir = path.join(tmp, 'secrets');
    store = new FileSecretStore({ dir });
    await store.ensureReady();
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('lays revisions out as documented: private folders, read-only files, no temp files', async () => {
    await store.writeRecord({ rotationId: ROT, state: { step: 'stage' } });
    await store.writeRecord({ rotationId: ROT, state: { step: 'deploy' } }, 1);
    const records = path.join(dir, HISTORY_DIR, RECORDS_DIR);
    const folder = path.join(records, ROT);
    expect((await stat(records)).mode & 0o777).toBe(0o700);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
    expect((await readdir(folder)).sort()).toEqual(['000001.json', '000002.json']);
    expect((await stat(path.join(folder, '000002.json'))).mode & 0o777).toBe(0o400);
    expect(JSON.parse(await readFile(path.join(folder, '000002.json'), 'utf8'))).toMatchObject({ rotationId: ROT, revision: 2, state: { step: 'deploy' } });
    // The records folder is not a secret's version folder.
    expect(await store.listVersions('streamsHmacKey')).toEqual([]);
    await expect(store.read(RECORDS_DIR)).rejects.toMatchObject({ code: 'invalid_name' });
  });

  it('takes a revision exactly once when twenty writers race from the same read', async () => {
    await store.writeRecord({ rotationId: ROT, state: { step: 'stage' } });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => store.writeRecord({ rotationId: ROT, state: { step: 'deploy', writer: i } }, 1)),
    );
    const won = outcomes.filter((o): o is PromiseFulfilledResult<StoredRotationRecord> => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    for (const l of lost) expect(l.reason).toBeInstanceOf(RecordConflictError);
    const current = await store.readRecord(ROT);
    expect(current).toEqual(won[0]?.value);
    expect(current?.revision).toBe(2);
    expect((await readdir(path.join(dir, HISTORY_DIR, RECORDS_DIR, ROT))).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('refuses a record folder that is loose or a symlink', async () => {
    const records = path.join(dir, HISTORY_DIR, RECORDS_DIR);
    await store.writeRecord({ rotationId: ROT, state: {} });
    await chmod(records, 0o755);
    await expect(store.readRecord(ROT)).rejects.toMatchObject({ code: 'unsafe_store', reason: 'permissions' });
    await expect(store.writeRecord({ rotationId: ROT, state: {} }, 1)).rejects.toMatchObject({ code: 'unsafe_store' });
    await rm(records, { recursive: true });

    const elsewhere = path.join(tmp, 'elsewhere');
    await mkdir(elsewhere, { mode: 0o700 });
    await symlink(elsewhere, records);
    await expect(store.writeRecord({ rotationId: ROT, state: {} })).rejects.toMatchObject({ code: 'unsafe_store', reason: 'not_directory' });
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it('reports a corrupt revision without guessing', async () => {
    await store.writeRecord({ rotationId: ROT, state: {} });
    const file = path.join(dir, HISTORY_DIR, RECORDS_DIR, ROT, '000001.json');
    await chmod(file, 0o600);
    await writeFile(file, '{"rotationId":');
    await expect(store.readRecord(ROT)).rejects.toMatchObject({ code: 'record_corrupt' });
    await writeFile(file, JSON.stringify({ rotationId: ROT, revision: 7, updatedAt: new Date().toISOString(), state: {} }));
    await expect(store.readRecord(ROT)).rejects.toMatchObject({ code: 'record_corrupt' });
  });

  it('prunes only records older than the horizon, atomically', async () => {
    await store.writeRecord({ rotationId: 'old-one', state: {} });
    const horizon = new Date(Date.now() + 60_000);
    await expect(store.pruneRecords(new Date(0))).resolves.toBe(0);
    await expect(store.pruneRecords(horizon)).resolves.toBe(1);
    expect(await store.readRecord('old-one')).toBeUndefined();
    expect(await readdir(path.join(dir, HISTORY_DIR, RECORDS_DIR))).toEqual([]);
  });
});
