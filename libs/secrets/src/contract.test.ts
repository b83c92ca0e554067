import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSecretStore, MAX_RECORD_BYTES, RecordConflictError, SecretsError, generateKeyHex, keyIdOf, type SecretStore } from './index.js';
import { startKubeFixture } from './kubernetes/test-helpers.js';

/**
 * The SecretStore contract, run against both stores through the interface
 * alone: a writer or a check must not be able to tell which one it has.
 */
interface Opened {
  store: SecretStore;
  /** A second instance on the same storage: another replica, or this one after a restart. */
  reopen(): SecretStore;
  close(): Promise<void>;
}

const stores: { kind: string; open(): Promise<Opened> }[] = [
  {
    kind: 'files',
    async open() {
      const tmp = await mkdtemp(path.join(os.tmpdir(), 'secrets-contract-'));
      const dir = path.join(tmp, 'secrets');
      return { store: new FileSecretStore({ dir }), reopen: () => new FileSecretStore({ dir }), close: () => rm(tmp, { recursive: true, force: true }) };
    },
  },
  {
    kind: 'kubernetes',
    async open() {
      const fx = await startKubeFixture();
      return { store: fx.store, reopen: () => fx.newStore(), close: () => fx.close() };
    },
  },
];

const KEY = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const ROT = '01980000-0000-7000-8000-000000000001';
const BAD_NAMES = ['', '../etc', 'a/b', '.history', '9lives', 'with-dash', 'dot.name', 'x'.repeat(200)];

describe.each(stores)('SecretStore contract: $kind', ({ open }) => {
  let opened: Opened;
  let store: SecretStore;
  beforeEach(async () => {
    opened = await open();
    store = opened.store;
    await store.ensureReady();
  });
  afterEach(async () => {
    await opened.close();
  });

  it('is ready and safe after ensureReady, which may run again', async () => {
    await store.ensureReady();
    await store.assertSafe();
  });

  it('writes, reads, replaces and removes a secret; the location names it and never holds the value', async () => {
    expect(await store.read('streamsHmacKey')).toBeUndefined();
    const written = await store.write('streamsHmacKey', KEY);
    expect(written).toMatchObject({ location: store.location('streamsHmacKey'), kid: keyIdOf(KEY) });
    expect(written.location).toContain('streamsHmacKey');
    expect(written.location).not.toContain(KEY);
    expect(await store.read('streamsHmacKey')).toBe(KEY);

    const next = generateKeyHex();
    expect((await store.write('streamsHmacKey', next)).kid).toBe(keyIdOf(next));
    expect(await opened.reopen().read('streamsHmacKey')).toBe(next);

    await store.remove('streamsHmacKey');
    await store.remove('streamsHmacKey');
    expect(await store.read('streamsHmacKey')).toBeUndefined();
  });

  it('gives a derived, non-hex value a fingerprint as id', async () => {
    expect((await store.write('redisUrl', 'redis://:pw@redis:6379/0')).kid).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it('refuses unsafe names and values it would store differently than holders read them', async () => {
    for (const bad of BAD_NAMES) {
      await expect(store.write(bad, KEY)).rejects.toMatchObject({ code: 'invalid_name' });
      await expect(store.read(bad)).rejects.toMatchObject({ code: 'invalid_name' });
      await expect(store.remove(bad)).rejects.toMatchObject({ code: 'invalid_name' });
      await expect(store.listVersions(bad)).rejects.toMatchObject({ code: 'invalid_name' });
      expect(() => store.location(bad)).toThrow(SecretsError);
    }
    await expect(store.write('redisPassword', '')).rejects.toMatchObject({ code: 'invalid_value' });
    await expect(store.write('redisPassword', `${KEY}\n`)).rejects.toMatchObject({ code: 'invalid_value' });
  });

  it('keeps versions: once per step, listed without values, read by kid, newest first on a value recorded again', async () => {
    const next = generateKeyHex();
    const before = await store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'before' });
    const fresh = await store.recordVersion('auditHmacKey', next, { rotationId: ROT, phase: 'new' });
    const again = await store.recordVersion('auditHmacKey', KEY, { rotationId: ROT, phase: 'before' });
    expect(before).toMatchObject({ name: 'auditHmacKey', seq: 1, kid: keyIdOf(KEY), rotationId: ROT, phase: 'before', recorded: true });
    expect(fresh).toMatchObject({ seq: 2, kid: keyIdOf(next), recorded: true });
    expect(again).toEqual({ ...before, recorded: false });
    expect(before.location).not.toContain(KEY);

    const list = await store.listVersions('auditHmacKey');
    expect(list.map((v) => Object.keys(v).sort())).toEqual(Array(2).fill(['kid', 'location', 'name', 'phase', 'recordedAt', 'rotationId', 'seq']));
    expect(JSON.stringify(list)).not.toContain(KEY);
    expect(await store.findVersion('auditHmacKey', { rotationId: ROT, phase: 'new' })).toEqual(list[1]);
    expect(await store.findVersion('auditHmacKey', { rotationId: ROT, phase: 'retire' })).toBeUndefined();
    expect(await store.readVersion('auditHmacKey', keyIdOf(next))).toBe(next);
    expect(await store.readVersion('auditHmacKey', '0000000000000000')).toBeUndefined();
    expect(await store.listVersions('streamsHmacKey')).toEqual([]);

    await expect(store.recordVersion('auditHmacKey', generateKeyHex(), { rotationId: ROT, phase: 'new' })).rejects.toMatchObject({ code: 'history_conflict' });
    await expect(store.recordVersion('auditHmacKey', KEY, { rotationId: '', phase: 'x' })).rejects.toMatchObject({ code: 'invalid_argument' });

    await store.recordVersion('auditHmacKey', KEY, { rotationId: 'rot-2', phase: 'rollback' });
    expect(await opened.reopen().readVersion('auditHmacKey', keyIdOf(KEY))).toBe(KEY);
    expect((await opened.reopen().listVersions('auditHmacKey')).map((v) => v.seq)).toEqual([1, 2, 3]);
  });

  it('keeps rotation records with compare-and-swap, across a restart', async () => {
    expect(await store.readRecord(ROT)).toBeUndefined();
    const first = await store.writeRecord({ rotationId: ROT, state: { step: 'stage', kids: [keyIdOf(KEY)] } });
    expect(first).toMatchObject({ rotationId: ROT, revision: 1, state: { step: 'stage', kids: [keyIdOf(KEY)] } });
    expect(Number.isNaN(Date.parse(first.updatedAt))).toBe(false);

    const exists = await store.writeRecord({ rotationId: ROT, state: {} }).catch((e: unknown) => e);
    expect(exists).toBeInstanceOf(RecordConflictError);
    expect(exists).toMatchObject({ code: 'record_conflict', expectedRevision: 0, actualRevision: 1 });
    await expect(store.writeRecord({ rotationId: 'never-written', state: {} }, 3)).rejects.toMatchObject({ actualRevision: 0 });

    const second = await opened.reopen().writeRecord({ rotationId: ROT, state: { step: 'deploy' } }, 1);
    expect(second.revision).toBe(2);
    await expect(store.writeRecord({ rotationId: ROT, state: { step: 'replayed stage' } }, 1)).rejects.toBeInstanceOf(RecordConflictError);
    expect(await store.readRecord(ROT)).toEqual(second);
  });

  it('refuses records that are not small JSON objects under a safe rotation id', async () => {
    await expect(store.writeRecord({ rotationId: '../x', state: {} })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(store.readRecord('a/b')).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(store.writeRecord({ rotationId: ROT, state: [] as never })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(store.writeRecord({ rotationId: ROT, state: { big: 'x'.repeat(MAX_RECORD_BYTES) } })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(store.writeRecord({ rotationId: ROT, state: {} }, -1)).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await store.readRecord(ROT)).toBeUndefined();
  });

  it('prunes the records last written before a time, and only those', async () => {
    await store.writeRecord({ rotationId: 'rot-a', state: {} });
    await store.writeRecord({ rotationId: 'rot-b', state: {} });
    expect(await store.pruneRecords(new Date(Date.now() - 60_000))).toBe(0);
    expect(await store.pruneRecords(new Date(Date.now() + 60_000))).toBe(2);
    expect(await store.readRecord('rot-a')).toBeUndefined();
    expect(await store.pruneRecords(new Date(Date.now() + 60_000))).toBe(0);
    await expect(store.pruneRecords(new Date(Number.NaN))).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});
