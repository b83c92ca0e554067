import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRotationId, type Plan } from '@caracal-rotation/contracts';
import { deleteKeys, testRedis, uniqueName } from '@caracal-rotation/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keyring, OperatorRegistrySource, PlanStore, Signers, StaticKeyringSource, keyIdOf, loadOperators, type Redis } from './index.js';

const ALICE = '11'.repeat(32);
const CI = '22'.repeat(32);
const BUS = '33'.repeat(32);

let dir: string;
let redis: Redis;
const prefix = uniqueName('t-bus-authority');

async function writeRegistry(operators: unknown[]): Promise<void> {
  await writeFile(join(dir, 'operators.json'), JSON.stringify({ version: 1, operators }));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rotation-dir-'));
  await chmod(dir, 0o700);
  await mkdir(join(dir, 'operators'));
  await writeFile(join(dir, 'operatorKey'), ALICE);
  await writeFile(join(dir, 'operators', 'ci.key'), `${CI}\n`);
  redis = testRedis();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await deleteKeys(redis, prefix);
  await redis.quit();
});

describe('operator registry', () => {
  it('knows each operator by the id of its key, with its rights', async () => {
    await writeRegistry([
      { name: 'alice@ops', key_file: 'operatorKey', materials: ['*'], emergency: true, rollback: true, abandon: true },
      { name: 'ci', key_file: 'operators/ci.key', materials: ['AUDIT_HMAC_KEY'] },
    ]);
    const operators = await loadOperators(dir);
    expect(operators.map((o) => [o.operator.name, o.kid])).toEqual([
      ['alice@ops', keyIdOf(Buffer.from(ALICE, 'hex'))],
      ['ci', keyIdOf(Buffer.from(CI, 'hex'))],
    ]);
    expect(operators[1]!.operator).toMatchObject({ emergency: false, rollback: false, abandon: false });
  });

  it('refuses a key file outside the directory, a missing key and a short key, naming the operator and never the key', async () => {
    await writeRegistry([{ name: 'eve', key_file: 'operators/../../etc/passwd', materials: ['*'] }]);
    await expect(loadOperators(dir)).rejects.toThrow(/inside the orchestrator directory|must stay inside/);
    await writeRegistry([{ name: 'bob', key_file: 'operators/bob.key', materials: ['*'] }]);
    await expect(loadOperators(dir)).rejects.toThrow(/operator bob: key file .* cannot be read/);
    await writeFile(join(dir, 'operators', 'short.key'), 'abcd');
    await writeRegistry([{ name: 'carol', key_file: 'operators/short.key', materials: ['*'] }]);
    const err = await loadOperators(dir).catch((e: Error) => e);
    expect(String(err)).toMatch(/operator carol: .* 2 bytes; at least 32/);
    expect(String(err)).not.toContain('abcd');
  });

  it('tells bus, Caracal and operator keys apart', async () => {
    await writeRegistry([{ name: 'alice@ops', key_file: 'operatorKey', materials: ['*'] }]);
    const operators = await OperatorRegistrySource.open({ dir, pollMs: 0 });
    const signers = new Signers({ bus: new StaticKeyringSource(Keyring.fromHex(BUS)), operators, caracal: new StaticKeyringSource(Keyring.fromHex(CI)) });
    expect(signers.identify(keyIdOf(Buffer.from(BUS, 'hex')))).toMatchObject({ kind: 'bus' });
    expect(signers.identify(keyIdOf(Buffer.from(CI, 'hex')))).toMatchObject({ kind: 'caracal' });
    expect(signers.identify(keyIdOf(Buffer.from(ALICE, 'hex')))).toMatchObject({ kind: 'operator', name: 'alice@ops' });
    expect(signers.identify('0000000000000000')).toBeUndefined();
    operators.close();
  });
});

describe('plan store', () => {
  const plan = { version: 2, material: 'AUDIT_HMAC_KEY' } as unknown as Plan;

  it('refuses a plan that was changed in Redis after its events were signed', async () => {
    const store = new PlanStore(redis, prefix);
    const id = newRotationId();
    const ref = await store.put(id, plan);
    expect(ref.hash).toMatch(/^[0-9a-f]{64}$/);
    await redis.set(`{${prefix}}:plan:${id}`, JSON.stringify({ ...plan, material: 'ZONE_KEK' }));
    await expect(new PlanStore(redis, prefix).get(ref)).rejects.toMatchObject({ code: 'plan_altered' });
    await redis.del(`{${prefix}}:plan:${id}`);
    await expect(new PlanStore(redis, prefix).get(ref)).rejects.toMatchObject({ code: 'plan_missing' });
  });
});
