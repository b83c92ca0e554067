import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyHex, keyIdOf, RecordConflictError, UnsafeStoreError } from '../index.js';
import { HISTORY_SECRET_LABELS, KubernetesSecretStore, type KubernetesSecretStoreOptions } from './store.js';
import { HISTORY, NAMESPACE, RUNTIME, startKubeFixture, type KubeFixture } from './test-helpers.js';

const KEY = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const ROT = '01980000-0000-7000-8000-000000000001';

describe('KubernetesSecretStore', () => {
  let fx: KubeFixture;
  afterEach(async () => {
    await fx?.close();
  });

  describe('the runtime Secret', () => {
    it('writes a key base64 in data with a compare-and-swap patch, keeps the other keys, and reads it back', async () => {
      fx = await startKubeFixture({ runtime: { auditHmacKey: KEY, databaseUrl: 'postgres://caracal@db/caracal' } });
      const before = fx.secrets.get(NAMESPACE, RUNTIME)!.metadata.resourceVersion;
      const next = generateKeyHex();

      const result = await fx.store.write('auditHmacKey', next);

      expect(result).toEqual({ location: `secret/${NAMESPACE}/${RUNTIME}#auditHmacKey`, kid: keyIdOf(next) });
      expect(fx.store.location('auditHmacKey')).toBe(result.location);
      const stored = fx.secrets.get(NAMESPACE, RUNTIME)!;
      expect(stored.data?.auditHmacKey).toBe(Buffer.from(next).toString('base64'));
      expect(Number(stored.metadata.resourceVersion)).toBeGreaterThan(Number(before));
      expect(fx.secrets.values(NAMESPACE, RUNTIME)).toEqual({ auditHmacKey: next, databaseUrl: 'postgres://caracal@db/caracal' });
      expect(await fx.store.read('auditHmacKey')).toBe(next);
      expect(await fx.store.read('streamsHmacKey')).toBeUndefined();
      expect(fx.api.requests.filter((r) => r.method !== 'GET')).toEqual([{ method: 'PATCH', path: `/api/v1/namespaces/${NAMESPACE}/secrets/${RUNTIME}` }]);
    });

    it('does not patch a key that already holds the value', async () => {
      fx = await startKubeFixture({ runtime: { auditHmacKey: KEY } });
      expect(await fx.store.write('auditHmacKey', KEY)).toMatchObject({ kid: keyIdOf(KEY) });
      expect(fx.api.requests.map((r) => r.method)).toEqual(['GET']);
    });

    it('removes a key, and succeeds again when it is already gone', async () => {
      fx = await startKubeFixture({ runtime: { streamsHmacKeyPrevious: KEY, streamsHmacKey: KEY } });
      await fx.store.remove('streamsHmacKeyPrevious');
      await fx.store.remove('streamsHmacKeyPrevious');
      expect(fx.secrets.values(NAMESPACE, RUNTIME)).toEqual({ streamsHmacKey: KEY });
      expect(fx.api.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
    });

    it('drops a trailing newline someone added by hand, as the file store does', async () => {
      fx = await startKubeFixture({ runtime: { redisPassword: `${KEY}\n` } });
      expect(await fx.store.read('redisPassword')).toBe(KEY);
    });
  });

  describe('refusals', () => {
    it('says the runtime Secret does not exist and who creates it (404)', async () => {
      fx = await startKubeFixture({ runtime: false });
      const err = await fx.store.read('streamsHmacKey').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'store_not_found', status: 404, transient: false });
      expect((err as Error).message).toContain(`Secret ${NAMESPACE}/${RUNTIME} does not exist`);
      expect((err as Error).message).toContain("Caracal's Helm chart creates it");
      await expect(fx.store.write('streamsHmacKey', KEY)).rejects.toMatchObject({ code: 'store_not_found' });
      await expect(fx.store.assertSafe()).rejects.toMatchObject({ code: 'store_not_found' });
    });

    it('names the verb and the Secret the service account lacks (403)', async () => {
      fx = await startKubeFixture({ runtime: { auditHmacKey: KEY } });
      fx.secrets.deny('patch', NAMESPACE, RUNTIME);
      const err = await fx.store.write('auditHmacKey', generateKeyHex()).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'store_forbidden', status: 403 });
      expect((err as Error).message).toContain(`may not patch Secret ${NAMESPACE}/${RUNTIME}`);
      expect((err as Error).message).toContain(`resourceNames [${RUNTIME}]`);
      expect((err as Error).message).toContain(fx.secrets.user);

      fx.secrets.deny('get', NAMESPACE, HISTORY);
      await expect(fx.store.listVersions('auditHmacKey')).rejects.toThrow(`may not get Secret ${NAMESPACE}/${HISTORY}`);
    });

    it('says create cannot be limited by name when it may not create the history Secret', async () => {
      fx = await startKubeFixture({ runtime: { auditHmacKey: KEY } });
      fx.secrets.deny('create', NAMESPACE);
      const err = await fx.store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'before' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'store_forbidden' });
      expect((err as Error).message).toContain('create the Secret yourself');
    });

    it('refuses credentials the API server does not accept (401)', async () => {
      fx = await startKubeFixture();
      await expect(fx.newStore({ token: 'not-the-token' }).read('auditHmacKey')).rejects.toMatchObject({ code: 'store_unauthorized', status: 401 });
    });

    it('gives up after a bounded number of 409s, changing nothing', async () => {
      let patches = 0;
      fx = await startKubeFixture({
        runtime: { auditHmacKey: KEY },
        store: { maxAttempts: 4 },
        // Another writer that always gets there first.
        before: [(req) => (req.method === 'PATCH' ? (patches++, { status: 409, body: { kind: 'Status', reason: 'Conflict', code: 409 } }) : undefined)],
      });
      const err = await fx.store.write('auditHmacKey', generateKeyHex()).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'store_conflict', transient: true });
      expect((err as Error).message).toContain('after 4 attempts');
      expect(patches).toBe(4);
      expect(fx.secrets.values(NAMESPACE, RUNTIME)).toEqual({ auditHmacKey: KEY });
    });

    it('refuses a runtime Secret another controller owns (an ExternalSecret would undo the rotation)', async () => {
      fx = await startKubeFixture();
      fx.secrets.seed(NAMESPACE, {
        name: RUNTIME,
        values: { auditHmacKey: KEY },
        ownerReferences: [{ apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', name: 'caracal-runtime', uid: 'u1', controller: true }],
      });
      const err = await fx.store.assertSafe().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnsafeStoreError);
      expect(err).toMatchObject({ code: 'unsafe_store', reason: 'managed_elsewhere', location: `secret/${NAMESPACE}/${RUNTIME}` });
      expect((err as Error).message).toContain('ExternalSecret caracal-runtime');
      await expect(fx.store.write('auditHmacKey', generateKeyHex())).rejects.toMatchObject({ reason: 'managed_elsewhere' });
      expect(fx.secrets.values(NAMESPACE, RUNTIME)).toEqual({ auditHmacKey: KEY });
    });

    it('refuses a history Secret that is not ours, and writes nothing there', async () => {
      fx = await startKubeFixture({ runtime: { auditHmacKey: KEY } });
      fx.secrets.seed(NAMESPACE, { name: HISTORY, values: { unrelated: 'x' } });
      await expect(fx.store.assertSafe()).rejects.toMatchObject({ code: 'unsafe_store', reason: 'foreign_history' });
      await expect(fx.store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'before' })).rejects.toMatchObject({ reason: 'foreign_history' });
      await expect(fx.store.readRecord(ROT)).rejects.toMatchObject({ reason: 'foreign_history' });
      expect(fx.secrets.values(NAMESPACE, HISTORY)).toEqual({ unrelated: 'x' });
    });

    it('refuses a missing history Secret it was told not to create', async () => {
      fx = await startKubeFixture({ runtime: { auditHmacKey: KEY }, store: { createHistorySecret: false } });
      await expect(fx.store.assertSafe()).rejects.toMatchObject({ code: 'unsafe_store', reason: 'missing' });
      await expect(fx.store.ensureReady()).rejects.toMatchObject({ reason: 'missing' });
      await expect(fx.store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'before' })).rejects.toMatchObject({ code: 'store_not_found' });
      expect(fx.secrets.get(NAMESPACE, HISTORY)).toBeUndefined();
    });

    it('refuses configurations that cannot work before any request', () => {
      const base = { apiServer: 'http://127.0.0.1:1', token: 't', namespace: NAMESPACE };
      expect(() => startStore({ ...base, historySecret: RUNTIME })).toThrow(/must not be the Secret Caracal mounts/);
      expect(() => startStore({ ...base, secret: 'Not_A_Name' })).toThrow(/CARACAL_K8S_SECRET must be a Kubernetes object name/);
      expect(() => startStore({ ...base, versionsPerSecret: 1 })).toThrow(/at least 2/);
      expect(() => startStore({ ...base, namespace: 'Bad NS' })).toThrow(/DNS label/);
      expect(() => startStore({ ...base, apiServer: 'ftp://x' })).toThrow(/http:\/\/ or https:\/\//);
    });
  });

  describe('the history Secret', () => {
    it('is created on first use with labels saying what it is, and holds versions without exposing values in listings', async () => {
      fx = await startKubeFixture({ runtime: { auditHmacKey: KEY } });
      await fx.store.ensureReady();
      const created = fx.secrets.get(NAMESPACE, HISTORY)!;
      expect(created.metadata.labels).toEqual(HISTORY_SECRET_LABELS);
      expect(Object.values(created.metadata.annotations ?? {}).join(' ')).toContain('Never mount it');

      const next = generateKeyHex();
      const first = await fx.store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'before' });
      const second = await fx.store.recordVersion('auditHmacKey', next, { rotationId: ROT, phase: 'new' });
      expect(first).toMatchObject({ seq: 1, kid: keyIdOf(KEY), recorded: true, location: `secret/${NAMESPACE}/${HISTORY}#version.auditHmacKey.000001` });
      expect(second).toMatchObject({ seq: 2, kid: keyIdOf(next), recorded: true });
      expect(Object.keys(fx.secrets.values(NAMESPACE, HISTORY)!).sort()).toEqual(['version.auditHmacKey.000001', 'version.auditHmacKey.000002']);
      const list = await fx.store.listVersions('auditHmacKey');
      expect(list.map((v) => [v.seq, v.phase])).toEqual([
        [1, 'before'],
        [2, 'new'],
      ]);
      expect(JSON.stringify(list)).not.toContain(KEY);
      expect(await fx.store.readVersion('auditHmacKey', keyIdOf(next))).toBe(next);
      // The runtime Secret never sees the history.
      expect(Object.keys(fx.secrets.values(NAMESPACE, RUNTIME)!)).toEqual(['auditHmacKey']);
    });

    it('keeps the configured number of versions per secret, deleting the oldest in the same write', async () => {
      fx = await startKubeFixture({ store: { versionsPerSecret: 3 } });
      const values = Array.from({ length: 5 }, () => generateKeyHex());
      for (const [i, v] of values.entries()) await fx.store.recordVersion('streamsHmacKey', v, { rotationId: `rot-${i}`, phase: 'new' });
      await fx.store.recordVersion('auditHmacKey', KEY, { rotationId: 'rot-0', phase: 'new' });

      expect((await fx.store.listVersions('streamsHmacKey')).map((v) => v.seq)).toEqual([3, 4, 5]);
      expect(await fx.store.readVersion('streamsHmacKey', keyIdOf(values[0]!))).toBeUndefined();
      expect(await fx.store.readVersion('streamsHmacKey', keyIdOf(values[4]!))).toBe(values[4]);
      expect(await fx.store.findVersion('streamsHmacKey', { rotationId: 'rot-1', phase: 'new' })).toBeUndefined();
      expect((await fx.store.listVersions('auditHmacKey')).map((v) => v.seq)).toEqual([1]);
      expect(Object.keys(fx.secrets.values(NAMESPACE, HISTORY)!)).toHaveLength(4);
    });

    it('refuses a write that would pass the 1 MiB limit, with what to do, and changes nothing', async () => {
      fx = await startKubeFixture();
      fx.secrets.seed(NAMESPACE, { name: HISTORY, labels: { ...HISTORY_SECRET_LABELS }, values: { 'version.filler.000001': 'x'.repeat(1024 * 1024 - 100) } });
      const before = fx.secrets.get(NAMESPACE, HISTORY)!.metadata.resourceVersion;
      const err = await fx.store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'before' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'history_full' });
      expect((err as Error).message).toContain('CARACAL_K8S_HISTORY_VERSIONS');
      expect(fx.secrets.get(NAMESPACE, HISTORY)!.metadata.resourceVersion).toBe(before);
    });
  });

  describe('rotation records', () => {
    it('compare-and-swap on the revision, durable across a restart of the store', async () => {
      fx = await startKubeFixture();
      const created = await fx.store.writeRecord({ rotationId: ROT, state: { step: 'stage', kid: keyIdOf(KEY) } });
      expect(created).toMatchObject({ rotationId: ROT, revision: 1, state: { step: 'stage' } });
      await expect(fx.store.writeRecord({ rotationId: ROT, state: { step: 'stage' } })).rejects.toBeInstanceOf(RecordConflictError);
      const moved = await fx.store.writeRecord({ rotationId: ROT, state: { step: 'deploy' } }, 1);
      expect(moved.revision).toBe(2);
      await expect(fx.store.writeRecord({ rotationId: ROT, state: { step: 'stale' } }, 1)).rejects.toMatchObject({
        code: 'record_conflict',
        expectedRevision: 1,
        actualRevision: 2,
      });

      const restarted = fx.newStore();
      expect(await restarted.readRecord(ROT)).toEqual(moved);
      expect(fx.secrets.values(NAMESPACE, HISTORY)![`rotation.${ROT}`]).toBe(JSON.stringify(moved));
    });

    it('deletes records past the retention on the next history write, and on request', async () => {
      let now = new Date('2026-01-01T00:00:00Z');
      fx = await startKubeFixture({ store: { now: () => now, recordRetentionMs: 60_000 } });
      await fx.store.writeRecord({ rotationId: 'old', state: {} });
      now = new Date('2026-01-01T00:00:30Z');
      await fx.store.writeRecord({ rotationId: 'middle', state: {} });
      now = new Date('2026-01-01T00:01:10Z');
      await fx.store.writeRecord({ rotationId: 'new', state: {} });
      expect(await fx.store.readRecord('old')).toBeUndefined();
      expect(await fx.store.readRecord('middle')).toBeDefined();

      expect(await fx.store.pruneRecords(new Date('2026-01-01T00:01:00Z'))).toBe(1);
      expect(Object.keys(fx.secrets.values(NAMESPACE, HISTORY)!)).toEqual(['rotation.new']);
    });

    it('reports a corrupt record instead of guessing', async () => {
      fx = await startKubeFixture();
      fx.secrets.seed(NAMESPACE, { name: HISTORY, labels: { ...HISTORY_SECRET_LABELS }, values: { [`rotation.${ROT}`]: '{"rotationId":' } });
      await expect(fx.store.readRecord(ROT)).rejects.toMatchObject({ code: 'record_corrupt' });
      await expect(fx.store.writeRecord({ rotationId: ROT, state: {} }, 1)).rejects.toMatchObject({ code: 'record_corrupt' });
    });
  });
});

function startStore(opts: KubernetesSecretStoreOptions): KubernetesSecretStore {
  return new KubernetesSecretStore(opts);
}
