import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, testSchemaUrl } from '@caracal-rotation/testing';
import { kekIdOf, kekKeyring, open, seal } from './css1.js';
import { ensureSandboxSecrets } from './ensure-secrets.js';
import { resealProgram } from './sealed/paths.js';
import { SEALED_TABLE, putSealed } from './sealed/store.js';
import { startFleet, type Fleet } from './supervisor.js';
import { dropNamespace, getJson, postJson, readSecretFile, testRedis, uniqueNamespace, waitFor, writeSecretFile } from './test-helpers.js';

/**
 * ZONE_KEK rotation against the sandbox: values sealed under KEK A, KEK B
 * deployed with A as previous, the re-seal job killed halfway and run again,
 * then A withdrawn. Every row must end under B with nothing lost.
 */
const namespace = uniqueNamespace();
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const ROWS = 200;
let tmp: string;
let secretsDir: string;
let fleet: Fleet;
let redis: Redis;
let db: { url: string; schema: string };
let pool: pg.Pool;
let adminToken: string;
const values = new Map<string, string>();

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sandbox-sealed-'));
  secretsDir = path.join(tmp, 'secrets');
  await ensureSandboxSecrets(secretsDir);
  adminToken = await readSecretFile(secretsDir, 'caracalAdminToken');
  redis = testRedis();
  db = await testSchemaUrl('sandbox_sealed');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  fleet = await startFleet({ secretsDir, redisUrl: process.env.REDIS_URL as string, namespace, members: ['api', 'sts'], databaseUrl: db.url });
});

afterAll(async () => {
  await fleet?.stop();
  await pool?.end();
  if (db) await dropSchema(db.schema);
  if (redis) {
    await dropNamespace(redis, namespace);
    await redis.quit();
  }
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const kekFile = (name: string) => path.join(secretsDir, name);
const kek = async (name: string) => Buffer.from(await readSecretFile(secretsDir, name), 'hex');
const apiCheck = async () => (await getJson(`${fleet.url('api')}/internal/sealed/check`, { headers: { authorization: `Bearer ${adminToken}` } })).body;
const ready = (member: 'api' | 'sts') => waitFor(async () => (await getJson(`${fleet.url(member)}/ready`)).status === 200, `${member} ready`);

/** Deploys a new KEK with the current one as previous, as the secret-writer does, and restarts the holders. */
async function deployKek(next: string, previous: string | undefined): Promise<void> {
  if (previous) await writeSecretFile(secretsDir, 'secretStoreKekPrevious', previous);
  else await fs.rm(kekFile('secretStoreKekPrevious'), { force: true });
  await writeSecretFile(secretsDir, 'secretStoreKek', next);
  await fleet.restart('api');
  await fleet.restart('sts');
  await Promise.all([ready('api'), ready('sts')]);
}

interface JobRun {
  lines: Record<string, unknown>[];
  code: number | null;
}

/** Runs the standalone job; `killAfterFirstBatch` SIGKILLs it once it reports a committed batch. */
function runResealJob(args: string[], env: NodeJS.ProcessEnv, killAfterFirstBatch = false): Promise<JobRun> {
  const child = spawn(process.execPath, [resealProgram(), ...args], { cwd: PACKAGE_DIR, env: { PATH: process.env.PATH, ...env } });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
    if (killAfterFirstBatch) child.kill('SIGKILL');
  });
  child.stderr.resume();
  return new Promise((resolve) => child.once('exit', (code) => resolve({ lines, code })));
}

describe('sealed zone secrets (ZONE_KEK)', () => {
  it('seals through the API under the current KEK and lets both holders open every row', async () => {
    expect((await postJson(`${fleet.url('api')}/internal/sealed`, { ref: 'r', purpose: 'p', value: 'v' })).status).toBe(401);
    expect((await postJson(`${fleet.url('api')}/internal/sealed`, { ref: '', purpose: 'p', value: 'v' }, adminToken)).status).toBe(400);
    const kekIdA = kekIdOf(await kek('secretStoreKek'));
    for (let batch = 0; batch < ROWS; batch += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const ref = `zone-${String(batch + j).padStart(3, '0')}/db-password`;
          const value = randomBytes(12).toString('hex');
          values.set(ref, value);
          const res = await postJson(`${fleet.url('api')}/internal/sealed`, { ref, purpose: 'zone-secret', value }, adminToken);
          expect(res.body).toEqual({ stored: true, ref, purpose: 'zone-secret', kek_id: kekIdA });
        }),
      );
    }
    const expected = { total: ROWS, opened: ROWS, failed: 0, by_kek_id: { [kekIdA]: ROWS } };
    expect(await apiCheck()).toEqual(expected);
    const stsToken = await readSecretFile(secretsDir, 'stsAdminToken');
    expect((await getJson(`${fleet.url('sts')}/internal/sealed/check`, { headers: { authorization: `Bearer ${stsToken}` } })).body).toEqual(expected);
  });

  it('re-seals under the new KEK with a standalone job that survives being killed halfway', async () => {
    const kekA = await kek('secretStoreKek');
    const kekB = randomBytes(32);
    await deployKek(kekB.toString('hex'), kekA.toString('hex'));
    const [idA, idB] = [kekIdOf(kekA), kekIdOf(kekB)];
    expect(await apiCheck()).toEqual({ total: ROWS, opened: ROWS, failed: 0, by_kek_id: { [idA]: ROWS } });

    const env = { SECRET_STORE_KEK_FILE: kekFile('secretStoreKek'), SECRET_STORE_KEK_PREVIOUS_FILE: kekFile('secretStoreKekPrevious'), DATABASE_URL: db.url };
    const killed = await runResealJob(['--batch', '20', '--pause-ms', '500'], env, true);
    expect(killed.code).toBeNull();
    expect(killed.lines[0]).toEqual({ batch: 1, rows: 20, resealed: 20, skipped: 0, failed: 0, failures: [] });
    const halfway = await apiCheck();
    expect(halfway).toMatchObject({ total: ROWS, opened: ROWS, failed: 0 });
    const byKek = halfway.by_kek_id as Record<string, number>;
    expect(byKek[idB]).toBeGreaterThanOrEqual(20);
    expect(byKek[idA]).toBeGreaterThan(0);

    const rerun = await runResealJob(['--batch', '20'], env);
    expect(rerun.code).toBe(0);
    expect(rerun.lines.at(-1)).toEqual({ done: true, kek_id: idB, resealed: byKek[idA], skipped: byKek[idB], failed: 0 });
    expect(await apiCheck()).toEqual({ total: ROWS, opened: ROWS, failed: 0, by_kek_id: { [idB]: ROWS } });

    // Nothing lost: every row is there and opens under B alone to the value sealed under A.
    const { rows } = await pool.query<{ ref: string; purpose: string; sealed: Buffer }>(`SELECT ref, purpose, sealed FROM ${SEALED_TABLE} ORDER BY ref`);
    expect(rows.map((r) => r.ref)).toEqual([...values.keys()].sort());
    for (const row of [rows[0], rows[97], rows[ROWS - 1]]) {
      const { ref, purpose, sealed } = row as (typeof rows)[number];
      expect(open(kekKeyring(kekB), purpose, ref, sealed).toString('utf8')).toBe(values.get(ref));
    }

    // Withdrawing A afterwards leaves every row readable.
    await deployKek(kekB.toString('hex'), undefined);
    expect(await apiCheck()).toEqual({ total: ROWS, opened: ROWS, failed: 0, by_kek_id: { [idB]: ROWS } });
  });

  it('re-seals in-process through the API, idempotently', async () => {
    const kekB = await kek('secretStoreKek');
    const kekC = randomBytes(32);
    await deployKek(kekC.toString('hex'), kekB.toString('hex'));
    const reseal = async () => (await postJson(`${fleet.url('api')}/internal/sealed/reseal`, {}, adminToken)).body;
    expect(await reseal()).toEqual({ resealed: ROWS, skipped: 0, failed: 0 });
    expect(await reseal()).toEqual({ resealed: 0, skipped: ROWS, failed: 0 });
    expect(await apiCheck()).toEqual({ total: ROWS, opened: ROWS, failed: 0, by_kek_id: { [kekIdOf(kekC)]: ROWS } });
  });

  it('reports rows it cannot open and exits 1, touching nothing else', async () => {
    const foreign = randomBytes(32);
    await putSealed(pool, { ref: 'zz-foreign', purpose: 'zone-secret', sealed: seal(foreign, 'zone-secret', 'zz-foreign', 'x') });
    const env = { SECRET_STORE_KEK_FILE: kekFile('secretStoreKek'), SECRET_STORE_KEK_PREVIOUS_FILE: kekFile('secretStoreKekPrevious'), DATABASE_URL: db.url };
    const run = await runResealJob([], env);
    expect(run.code).toBe(1);
    expect(run.lines.at(-1)).toMatchObject({ done: true, resealed: 0, skipped: ROWS, failed: 1 });
    expect(run.lines.flatMap((line) => (line.failures as unknown[] | undefined) ?? [])).toEqual([{ ref: 'zz-foreign', error: 'unknown_kek' }]);
    expect(await apiCheck()).toMatchObject({ total: ROWS + 1, opened: ROWS, failed: 1 });
    expect((await runResealJob([], { SECRET_STORE_KEK_FILE: kekFile('secretStoreKek') })).code).toBe(1);
  });
});
