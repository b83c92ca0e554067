import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_CATALOG, newRotationId, type Plan } from '@caracal-rotation/contracts';
import { SecretStore, keyIdOf } from '@caracal-rotation/secrets';
import { tempSecretsDir } from '@caracal-rotation/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileWriter } from './file-writer.js';

const OLD = 'ab'.repeat(32);
const OLDER = 'cd'.repeat(32);
let dir: string;
let store: SecretStore;
let writer: FileWriter;

function planFor(overlap: 'dual' | 'none'): Plan {
  const entry = DEFAULT_CATALOG.materials.find((m) => m.material === 'AUDIT_HMAC_KEY')!;
  return {
    material: 'AUDIT_HMAC_KEY',
    format: 'key32',
    overlap,
    writer: 'file',
    secret: { env: 'AUDIT_HMAC_KEY', file: 'auditHmacKey', previous_file: 'auditHmacKeyPrevious' },
    derived: [],
    phases: overlap === 'dual' ? ['stage', 'deploy', 'retire'] : ['deploy', 'retire'],
    holders: entry.holders,
    checks: { stage: [], deploy: [], retire: [], rollback: [] },
    safety_window_ms: 0,
    drain: [],
    emergency: false,
    dry_run: false,
    warnings: [],
    requested: { actor: 'a', reason: 'r', requested_at: new Date().toISOString() },
  };
}

const read = (name: string) => readFile(join(dir, name), 'utf8').catch(() => undefined);

beforeEach(async () => {
  dir = await tempSecretsDir({ auditHmacKey: OLD });
  store = new SecretStore({ dir });
  writer = new FileWriter(store);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('file writer, dual overlap', () => {
  it('stages the new key as Previous, deploys it as current, then retires the old one', async () => {
    const ctx = { rotationId: newRotationId(), plan: planFor('dual') };
    const staged = await writer.write('stage', ctx);
    const next = await read('auditHmacKeyPrevious');
    expect(await read('auditHmacKey')).toBe(OLD);
    expect(next).toMatch(/^[0-9a-f]{64}$/);
    expect(staged.new.kid).toBe(keyIdOf(next!));
    expect(staged.previous?.kid).toBe(keyIdOf(OLD));
    expect(staged.new.location).toBe(join(dir, 'auditHmacKey'));

    await writer.write('deploy', ctx);
    expect(await read('auditHmacKey')).toBe(next);
    expect(await read('auditHmacKeyPrevious')).toBe(OLD);
    expect((await stat(join(dir, 'auditHmacKey'))).mode & 0o777).toBe(0o444);

    const retired = await writer.write('retire', ctx);
    expect(retired.changed).toBe(true);
    expect(await read('auditHmacKey')).toBe(next);
    expect(await read('auditHmacKeyPrevious')).toBeUndefined();
  });

  it('repeats a phase with the same value (a retried writer changes nothing more)', async () => {
    const ctx = { rotationId: newRotationId(), plan: planFor('dual') };
    const first = await writer.write('stage', ctx);
    const again = await writer.write('stage', ctx);
    expect(again).toEqual(first);
    await writer.write('deploy', ctx);
    const deployedTwice = await writer.write('deploy', ctx);
    expect(await read('auditHmacKey')).not.toBe(OLD);
    expect(deployedTwice.new.kid).toBe(first.new.kid);
    expect(await read('auditHmacKeyPrevious')).toBe(OLD);
  });

  it('rolls back to exactly the files as they were, Previous included', async () => {
    await store.write('auditHmacKeyPrevious', OLDER);
    const ctx = { rotationId: newRotationId(), plan: planFor('dual') };
    await writer.write('stage', ctx);
    await writer.write('deploy', ctx);
    const back = await writer.write('rollback', ctx);
    expect(await read('auditHmacKey')).toBe(OLD);
    expect(await read('auditHmacKeyPrevious')).toBe(OLDER);
    expect(back.new.kid).toBe(keyIdOf(OLD));
  });

  it('leaves no temporary files behind', async () => {
    const ctx = { rotationId: newRotationId(), plan: planFor('dual') };
    for (const phase of ['stage', 'deploy', 'retire'] as const) await writer.write(phase, ctx);
    expect((await readdir(dir)).sort()).toEqual(['.history', 'auditHmacKey', 'streamsHmacKey']);
  });
});

describe('file writer, no overlap', () => {
  it('switches the value in deploy and has nothing to retire', async () => {
    const ctx = { rotationId: newRotationId(), plan: planFor('none') };
    const deployed = await writer.write('deploy', ctx);
    expect(await read('auditHmacKey')).not.toBe(OLD);
    expect(await read('auditHmacKeyPrevious')).toBeUndefined();
    const retired = await writer.write('retire', ctx);
    expect(retired).toMatchObject({ changed: false, new: deployed.new });
  });

  it('rolls back by restoring the old value and removing nothing else', async () => {
    const ctx = { rotationId: newRotationId(), plan: planFor('none') };
    await writer.write('deploy', ctx);
    await writer.write('rollback', ctx);
    expect(await read('auditHmacKey')).toBe(OLD);
    expect(await read('auditHmacKeyPrevious')).toBeUndefined();
  });
});

it('refuses to rotate material that has no current value', async () => {
  await rm(join(dir, 'auditHmacKey'), { force: true });
  await expect(writer.write('deploy', { rotationId: newRotationId(), plan: planFor('none') })).rejects.toMatchObject({ code: 'secret_file_missing' });
});
