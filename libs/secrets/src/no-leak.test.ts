import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectNoLeak, rejected, thrown } from './test-helpers.js';
import {
  HISTORY_DIR,
  FileSecretStore,
  assertHexKey,
  isWeakKek,
  keyIdOf,
  previousName,
  readSecretFromEnv,
} from './index.js';

/** Every error path of the library, triggered with known secret values, leaves them out (test-helpers.ts says how that is checked). */
const SECRET = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const SECRET_2 = 'e3a1907c55d24b8f0a6e1c9d7b3f2a8e4c6d0b1f9a7e5c3d2b8f6a4e0c1d9b7f';

describe('errors never carry secret values', () => {
  let tmp: string;
  let dir: string;
  let store: FileSecretStore;

  beforeEach(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'secrets-leak-'));
    dir = path.join(tmp, 'secrets');
    store = new FileSecretStore({ dir });
    await store.ensureDir();
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('hex validation, key ids and weak-KEK checks', () => {
    const bad = `${SECRET.slice(0, 20)}g${SECRET.slice(21)}`;
    const cases = [
      () => assertHexKey(`${SECRET}a`, { minBytes: 32, label: 'STREAMS_HMAC_KEY' }),
      () => assertHexKey(bad, { minBytes: 32, label: 'STREAMS_HMAC_KEY' }),
      () => assertHexKey(`${SECRET} `, { minBytes: 32, label: 'STREAMS_HMAC_KEY' }),
      () => assertHexKey(SECRET, { minBytes: 64, label: 'STREAMS_HMAC_KEY' }),
      () => assertHexKey(SECRET, { minBytes: 1, exactBytes: 16, label: 'ZONE_KEK' }),
      () => keyIdOf(`${SECRET}z`),
      () => isWeakKek(`${SECRET}q`),
      () => previousName(SECRET),
    ];
    for (const fn of cases) expectNoLeak(thrown(fn), [SECRET]);
  });

  it('environment resolution', async () => {
    const file = path.join(tmp, 'streamsHmacKey');
    await writeFile(file, SECRET);
    const empty = path.join(tmp, 'empty');
    await writeFile(empty, '\n');
    const envs: NodeJS.ProcessEnv[] = [
      { STREAMS_HMAC_KEY: SECRET, STREAMS_HMAC_KEY_FILE: file },
      { STREAMS_HMAC_KEY_FILE: path.join(tmp, 'absent'), OTHER: SECRET },
      { STREAMS_HMAC_KEY_FILE: empty },
      { STREAMS_HMAC_KEY_FILE: tmp },
    ];
    for (const env of envs) expectNoLeak(thrown(() => readSecretFromEnv('STREAMS_HMAC_KEY', env)), [SECRET]);
  });

  it('writes: bad names (even a value passed as the name), bad values, unsafe and missing directories, failed renames', async () => {
    expectNoLeak(await rejected(store.write('../streamsHmacKey', SECRET)), [SECRET]);
    expectNoLeak(await rejected(store.write(SECRET, 'streamsHmacKey')), [SECRET]);
    expectNoLeak(await rejected(store.write(`k${SECRET}`.repeat(3), SECRET_2)), [SECRET, SECRET_2]);
    expectNoLeak(await rejected(store.write('streamsHmacKey', `${SECRET}\n`)), [SECRET]);
    expectNoLeak(await rejected(store.read(SECRET)), [SECRET]);
    expectNoLeak(await rejected(store.remove(SECRET)), [SECRET]);

    await mkdir(path.join(dir, 'auditHmacKey'));
    expectNoLeak(await rejected(store.write('auditHmacKey', SECRET)), [SECRET]);

    expectNoLeak(await rejected(new FileSecretStore({ dir: path.join(tmp, 'absent') }).write('streamsHmacKey', SECRET)), [SECRET]);

    await chmod(dir, 0o755);
    expectNoLeak(await rejected(store.write('streamsHmacKey', SECRET)), [SECRET]);
    expectNoLeak(await rejected(store.recordVersion('streamsHmacKey', SECRET, { rotationId: 'r', phase: 'deploy' })), [SECRET]);
    await chmod(dir, 0o700);

    const ws = new FileSecretStore({ dir, workspaceRoots: [tmp] });
    expectNoLeak(await rejected(ws.write('streamsHmacKey', SECRET)), [SECRET]);
  });

  it('history: conflicting retries, bad metadata, corrupt and mismatched version files', async () => {
    const meta = { rotationId: 'rot-1', phase: 'deploy' };
    const { location: file } = await store.recordVersion('streamsHmacKey', SECRET, meta);

    expectNoLeak(await rejected(store.recordVersion('streamsHmacKey', SECRET_2, meta)), [SECRET, SECRET_2]);
    expectNoLeak(await rejected(store.recordVersion('streamsHmacKey', SECRET, { rotationId: '', phase: 'deploy' })), [SECRET]);
    expectNoLeak(await rejected(store.recordVersion('streamsHmacKey', `${SECRET}\n`, { rotationId: 'r2', phase: 'deploy' })), [SECRET]);

    // JSON.parse would quote the start of the file, i.e. the secret.
    await chmod(file, 0o600);
    await writeFile(file, `x${SECRET}`);
    const kid = keyIdOf(SECRET);
    for (const call of [
      () => store.readVersion('streamsHmacKey', kid),
      () => store.listVersions('streamsHmacKey'),
      () => store.findVersion('streamsHmacKey', meta),
      () => store.recordVersion('streamsHmacKey', SECRET, meta),
    ]) {
      const err = await rejected(call());
      expect(err).toMatchObject({ code: 'history_corrupt' });
      expectNoLeak(err, [SECRET]);
    }

    // A value that does not match its recorded id.
    await writeFile(file, JSON.stringify({ value: SECRET_2, kid, rotationId: 'rot-1', phase: 'deploy', recordedAt: new Date().toISOString() }));
    const mismatch = await rejected(store.readVersion('streamsHmacKey', kid));
    expect(mismatch).toMatchObject({ code: 'history_corrupt' });
    expectNoLeak(mismatch, [SECRET, SECRET_2]);

    // Missing fields.
    await writeFile(file, JSON.stringify({ value: SECRET }));
    expectNoLeak(await rejected(store.readVersion('streamsHmacKey', kid)), [SECRET]);

    // A history folder replaced by a file.
    await rm(path.join(dir, HISTORY_DIR, 'streamsHmacKey'), { recursive: true });
    await writeFile(path.join(dir, HISTORY_DIR, 'streamsHmacKey'), SECRET);
    expectNoLeak(await rejected(store.recordVersion('streamsHmacKey', SECRET, meta)), [SECRET]);
    expectNoLeak(await rejected(store.readVersion('streamsHmacKey', kid)), [SECRET]);
  });

  it('leaves no temp files behind after the failures', async () => {
    await mkdir(path.join(dir, 'auditHmacKey'));
    await rejected(store.write('auditHmacKey', SECRET));
    expect((await readdir(dir)).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});
