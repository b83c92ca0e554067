import { kubeStatus, type KubeHandler } from '@caracal-rotation/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { keyIdOf } from '../index.js';
import { expectNoLeak, expectNoSecretIn, rejected } from '../test-helpers.js';
import type { StoreLogger } from './secret-resource.js';
import { HISTORY_SECRET_LABELS } from './store.js';
import { HISTORY, NAMESPACE, RUNTIME, startKubeFixture, type KubeFixture } from './test-helpers.js';

const SECRET = '4f1c2b9e8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6';
const SECRET_2 = 'e3a1907c55d24b8f0a6e1c9d7b3f2a8e4c6d0b1f9a7e5c3d2b8f6a4e0c1d9b7f';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
/** The values and the forms they travel in: plain, and base64 in `data`. */
const FORMS = [SECRET, SECRET_2, b64(SECRET), b64(SECRET_2)];

/** Collects every log line the store writes, as a logger would serialize it. */
function capturingLogger(): StoreLogger & { text(): string } {
  const lines: string[] = [];
  const log = (fields: Record<string, unknown>, message: string) => lines.push(JSON.stringify({ ...fields, message }));
  return { debug: log, info: log, text: () => lines.join('\n') };
}

/**
 * A server (or a proxy in front of it) that echoes the request body, values
 * included, in its Status message and reason: the store must not pass that on.
 */
function echoing(status: number, methods: readonly string[]): KubeHandler {
  return (req) => {
    if (!methods.includes(req.method)) return undefined;
    const echo = `ECHO ${JSON.stringify(req.body)}`;
    const res = kubeStatus(status, echo, echo);
    (res.body as Record<string, unknown>).details = { causes: [{ field: 'data', message: echo }] };
    return res;
  };
}

describe('the Kubernetes store never lets a value into an error or a log', () => {
  let fx: KubeFixture;
  afterEach(async () => {
    await fx?.close();
  });

  it('when the API server echoes the request in a refusal, whatever the status', async () => {
    for (const status of [400, 403, 409, 422, 500]) {
      const logger = capturingLogger();
      fx = await startKubeFixture({ runtime: { auditHmacKey: SECRET }, before: [echoing(status, ['PATCH'])], store: { logger, maxAttempts: 2 } });
      const errors = [
        await rejected(fx.store.write('auditHmacKey', SECRET_2)),
        await rejected(fx.store.recordVersion('auditHmacKey', SECRET, { rotationId: 'rot-1', phase: 'before' })),
      ];
      for (const err of errors) {
        expectNoLeak(err, FORMS);
        // Messages of a fixed shape (403) are quoted with what was sent cut out; others not at all.
        if (status === 403) expect((err as Error).message).toContain('[redacted]');
        else expect((err as Error).message, `status ${status}`).not.toContain('ECHO');
      }
      expectNoSecretIn(logger.text(), FORMS, `log at status ${status}`);
      await fx.close();
    }
  });

  it('in every refusal of its own and the logs of a busy run', async () => {
    const logger = capturingLogger();
    fx = await startKubeFixture({ runtime: { auditHmacKey: SECRET }, store: { logger, maxAttempts: 200 } });
    const meta = { rotationId: 'rot-1', phase: 'before' };

    // A busy run: creation of the history Secret, conflicts and retries.
    await Promise.all(Array.from({ length: 12 }, (_, i) => fx.store.recordVersion(`name${i}`, i % 2 ? SECRET : SECRET_2, meta)));
    await Promise.all(Array.from({ length: 12 }, (_, i) => fx.newStore({ logger }).write(`name${i}`, i % 2 ? SECRET : SECRET_2)));

    const errors: unknown[] = [
      // A value passed as the name, bad values, a different value for a recorded step.
      await rejected(fx.store.write(SECRET, 'auditHmacKey')),
      await rejected(fx.store.read(SECRET)),
      await rejected(fx.store.write('auditHmacKey', `${SECRET}\n`)),
      await rejected(fx.store.recordVersion('name0', SECRET, meta)),
    ];
    // Corrupt history entries: one not JSON (JSON.parse would quote it), one whose value does not match its id.
    fx.secrets.seed(NAMESPACE, {
      name: HISTORY,
      labels: { ...HISTORY_SECRET_LABELS },
      values: {
        'version.auditHmacKey.000001': `x${SECRET}`,
        'version.redisPassword.000001': JSON.stringify({ value: SECRET_2, kid: keyIdOf(SECRET), rotationId: 'r', phase: 'p', recordedAt: new Date().toISOString() }),
      },
    });
    errors.push(
      await rejected(fx.store.readVersion('auditHmacKey', keyIdOf(SECRET))),
      await rejected(fx.store.listVersions('redisPassword')),
      await rejected(fx.store.recordVersion('auditHmacKey', SECRET, { rotationId: 'rot-2', phase: 'new' })),
    );
    // Refusals by the API server and by the store's own checks.
    fx.secrets.deny('patch', NAMESPACE, RUNTIME);
    errors.push(await rejected(fx.store.write('auditHmacKey', SECRET_2)));
    fx.secrets.allowAll();
    fx.secrets.seed(NAMESPACE, {
      name: RUNTIME,
      values: { auditHmacKey: SECRET },
      ownerReferences: [{ apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', name: 'caracal-runtime', uid: 'u', controller: true }],
    });
    errors.push(await rejected(fx.store.write('auditHmacKey', SECRET_2)));
    fx.secrets.seed(NAMESPACE, { name: HISTORY, values: { 'version.auditHmacKey.000001': SECRET } });
    errors.push(await rejected(fx.store.recordVersion('auditHmacKey', SECRET_2, meta)));
    fx.secrets.seed(NAMESPACE, { name: HISTORY, labels: { ...HISTORY_SECRET_LABELS }, values: { filler: 'x'.repeat(1024 * 1024 - 50) } });
    errors.push(await rejected(fx.store.recordVersion('auditHmacKey', SECRET_2, meta)));

    expect(errors.map((e) => (e as { code?: string }).code)).toEqual([
      'invalid_name',
      'invalid_name',
      'invalid_value',
      'history_conflict',
      'history_corrupt',
      'history_corrupt',
      'history_corrupt',
      'store_forbidden',
      'unsafe_store',
      'unsafe_store',
      'history_full',
    ]);
    for (const err of errors) expectNoLeak(err, FORMS);
    expect(logger.text()).toContain('409 Conflict');
    expectNoSecretIn(logger.text(), FORMS, 'log');
  });
});
