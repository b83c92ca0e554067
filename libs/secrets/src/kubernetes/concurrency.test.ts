import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyHex, keyIdOf, RecordConflictError, type StoredRotationRecord } from '../index.js';
import { NAMESPACE, RUNTIME, startKubeFixture, type KubeFixture } from './test-helpers.js';

/**
 * Writers racing on one Secret, as two secret-writer replicas (two store
 * instances) would. The double serves each request as the API server does, so
 * a GET and the PATCH planned from it interleave with other writers' requests
 * and only the resourceVersion check keeps updates from being lost.
 */
describe('KubernetesSecretStore under concurrent writers', () => {
  let fx: KubeFixture;
  afterEach(async () => {
    await fx?.close();
  });

  // Forty writers on one Secret: room for each to lose many races.
  const roomy = { maxAttempts: 200 };

  it('loses no update when forty writers from two replicas each set their own key', async () => {
    fx = await startKubeFixture({ runtime: { untouched: 'keep-me' }, store: roomy });
    const replicas = [fx.store, fx.newStore()];
    const values = new Map(Array.from({ length: 40 }, (_, i) => [`key${i}`, generateKeyHex()]));

    const results = await Promise.all([...values].map(([name, value], i) => replicas[i % 2]!.write(name, value)));

    expect(results.map((r) => r.kid)).toEqual([...values.values()].map((v) => keyIdOf(v)));
    expect(fx.secrets.values(NAMESPACE, RUNTIME)).toEqual({ untouched: 'keep-me', ...Object.fromEntries(values) });
    // Some writers did lose races: more PATCHes were sent than succeeded.
    expect(fx.api.requests.filter((r) => r.method === 'PATCH').length).toBeGreaterThan(values.size);
  });

  it('never shows a reader a partial or mixed value while writers race on one key', async () => {
    fx = await startKubeFixture({ store: roomy });
    const values = Array.from({ length: 30 }, () => generateKeyHex());
    const valid = new Set(values);
    const reader = fx.newStore();
    const seen: (string | undefined)[] = [];
    let writing = true;
    const reading = (async () => {
      while (writing) seen.push(await reader.read('streamsHmacKey'));
    })();

    await Promise.all(values.map((v, i) => (i % 2 === 0 ? fx.store : reader).write('streamsHmacKey', v)));
    writing = false;
    await reading;

    expect(seen.length).toBeGreaterThan(0);
    for (const v of seen) if (v !== undefined) expect(valid.has(v)).toBe(true);
    expect(valid.has(fx.secrets.values(NAMESPACE, RUNTIME)!.streamsHmacKey!)).toBe(true);
  });

  it('records a step once and distinct steps with contiguous numbers, pruned to the limit', async () => {
    fx = await startKubeFixture({ store: { ...roomy, versionsPerSecret: 4 } });
    const replicas = [fx.store, fx.newStore()];
    const step = { rotationId: 'rot-same', phase: 'new' };
    const value = generateKeyHex();

    const same = await Promise.all(Array.from({ length: 10 }, (_, i) => replicas[i % 2]!.recordVersion('auditHmacKey', value, step)));
    expect(same.filter((r) => r.recorded)).toHaveLength(1);
    expect(new Set(same.map((r) => r.location)).size).toBe(1);

    const values = Array.from({ length: 12 }, () => generateKeyHex());
    const distinct = await Promise.all(values.map((v, i) => replicas[i % 2]!.recordVersion('auditHmacKey', v, { rotationId: `rot-${i}`, phase: 'new' })));
    expect(distinct.every((r) => r.recorded)).toBe(true);
    expect(distinct.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));

    const kept = await fx.store.listVersions('auditHmacKey');
    expect(kept.map((v) => v.seq)).toEqual([10, 11, 12, 13]);
    const valueBySeq = new Map(distinct.map((r, i) => [r.seq, values[i]]));
    for (const v of kept) expect(await fx.store.readVersion('auditHmacKey', v.kid)).toBe(valueBySeq.get(v.seq));
  });

  it('lets exactly one of many writers move a record on from the revision they all read', async () => {
    fx = await startKubeFixture({ store: roomy });
    const replicas = [fx.store, fx.newStore()];
    await fx.store.writeRecord({ rotationId: 'rot-cas', state: { step: 'stage' } });

    const outcomes = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => replicas[i % 2]!.writeRecord({ rotationId: 'rot-cas', state: { step: 'deploy', writer: i } }, 1)),
    );

    const won = outcomes.filter((o): o is PromiseFulfilledResult<StoredRotationRecord> => o.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(RecordConflictError);
    expect(await fx.newStore().readRecord('rot-cas')).toEqual(won[0]!.value);
  });

  it('keeps records and versions written concurrently to the same history Secret', async () => {
    fx = await startKubeFixture({ store: roomy });
    const replicas = [fx.store, fx.newStore()];
    const values = Array.from({ length: 10 }, () => generateKeyHex());
    await Promise.all([
      ...values.map((v, i) => replicas[i % 2]!.recordVersion(`name${i}`, v, { rotationId: 'rot-mix', phase: 'new' })),
      ...values.map((_, i) => replicas[(i + 1) % 2]!.writeRecord({ rotationId: `rot-mix-${i}`, state: { i } })),
    ]);
    for (const [i, v] of values.entries()) {
      expect(await fx.store.readVersion(`name${i}`, keyIdOf(v))).toBe(v);
      expect((await fx.store.readRecord(`rot-mix-${i}`))?.state).toEqual({ i });
    }
  });
});
