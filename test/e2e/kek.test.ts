import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { countSealedRows } from '@caracal-rotation/caracal-client';
import { rotationChecks } from '@caracal-rotation/projection';
import { keyIdOf } from '@caracal-rotation/secrets';
import pg from 'pg';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';
import { processesWhere } from '../support/processes.js';
import { caracalSecret, rowsNotOnKek, zoneJwks } from '../support/replica-probes.js';
import { eventsNamed, eventsOf } from '../support/rotation-events.js';

/**
 * ZONE_KEK (Caracal's SECRET_STORE_KEK) through stage, deploy and retire on
 * the replica, with Caracal's re-seal job killed halfway through its work:
 * the verifier runs it again, the rotation completes, nothing sealed is lost
 * and the kill is on record.
 */
const EXTRA_SINKS = 5_000;
let e2e: E2E;
let adminUrl: string;

beforeAll(async () => {
  e2e = await startE2E('kek');
  adminUrl = await caracalSecret(e2e, 'databaseUrl');
  // Enough sealed rows that the re-seal job is seen at work: copies of the seeded
  // notification sink, whose sealed secret opens under the sinks' fixed AAD.
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rowCount } = await admin.query(
      `INSERT INTO notification_sinks (id, zone_id, name, url, secret_ct, event_types)
       SELECT 'e2e-sink-' || g, s.zone_id, 'e2e sink ' || g, s.url, s.secret_ct, s.event_types
         FROM notification_sinks s, generate_series(1, $1::int) g WHERE s.name = 'sandbox sink'`,
      [EXTRA_SINKS],
    );
    expect(rowCount).toBe(EXTRA_SINKS);
  } finally {
    await admin.end();
  }
}, 120_000);
afterAll(async () => e2e?.stop(), 60_000);

const kekFile = () => join(e2e.stack.secretsDir, 'secretStoreKek');
const sinksNotOn = async (kek: string) => (await rowsNotOnKek(e2e, kek)).find((c) => c.column === 'notification_sinks.secret_ct')!.rows;

/** The pid of Caracal's re-seal job run against this test's replica (other files may run theirs). */
async function resealJob(): Promise<number | undefined> {
  const jobs = await processesWhere((p) => p.argv.some((a) => a.endsWith('reseal.js')) && p.environ.includes(`SECRET_STORE_KEK_FILE=${kekFile()}`));
  return jobs[0]?.pid;
}

it('rotates the KEK through stage, deploy and retire, re-running the re-seal job killed halfway, and loses nothing sealed', async () => {
  const old = await caracalSecret(e2e, 'secretStoreKek');
  const sealedBefore = await countSealedRows(adminUrl);
  expect(await sinksNotOn(old)).toBe(0);

  const rotation = e2e.rotate({ material: 'SECRET_STORE_KEK', ticket: 'KEK-1' }, 180_000);

  // Once the job has re-sealed part of the sinks under the new KEK, and before it is done, kill it.
  await vi.waitFor(
    async () => {
      const pid = await resealJob();
      expect(pid, 'the re-seal job is running').toBeDefined();
      const current = await caracalSecret(e2e, 'secretStoreKek');
      expect(current).not.toBe(old);
      const left = await sinksNotOn(current);
      expect(left).toBeLessThan(EXTRA_SINKS);
      expect(left).toBeGreaterThan(0);
      process.kill(pid!, 'SIGKILL');
      return pid;
    },
    { timeout: 120_000, interval: 20 },
  );

  const { id, outcome } = await rotation;
  expect(outcome).toBe('completed');
  const now = await caracalSecret(e2e, 'secretStoreKek');
  expect(now).not.toBe(old);
  // At rest, the previous-KEK file Caracal's services read holds a copy of the current one: the old KEK is gone.
  expect(await caracalSecret(e2e, 'secretStoreKekPrevious')).toBe(now);

  // The kill is on record: the check ran the job again, and the second run finished the work.
  const verified = await eventsNamed(e2e, id, 'verified');
  expect(verified.map((v) => [v.data.phase, v.data.ok])).toEqual([
    ['stage', true],
    ['deploy', true],
    ['retire', true],
  ]);
  const reseal = (verified[1]!.data.checks as { name: string; ok: boolean; detail: string }[]).find((c) => c.name === 'kek_reseal')!;
  expect(reseal.ok).toBe(true);
  expect(reseal.detail).toMatch(/\(killed by SIGKILL, then exit 0\)/);
  expect(reseal.detail).toMatch(/ 0 failed$/);
  await vi.waitFor(async () => expect((await rotationChecks(e2e.pool, id)).find((c) => c.name === 'kek_reseal')?.detail).toBe(reseal.detail), { timeout: 15_000 });

  // Nothing sealed was lost, every row is under the new KEK, and the STS opens every zone's keys with it alone.
  expect(await countSealedRows(adminUrl)).toEqual(sealedBefore);
  expect((await rowsNotOnKek(e2e, now)).filter((c) => c.rows > 0)).toEqual([]);
  for (const [zone, jwks] of await zoneJwks(e2e)) expect(jwks.status, `JWKS of zone ${zone}`).toBe(200);

  // Stage, deploy and retire each restarted api, then sts, in that order.
  const rolled = await eventsNamed(e2e, id, 'rolled');
  expect(rolled.map((r) => r.data.phase)).toEqual(['stage', 'deploy', 'retire']);
  for (const r of rolled) {
    const [api, sts, ...others] = r.data.holders as { service: string; ok: boolean; restarted_at: string; ready_at: string }[];
    expect([api?.service, sts?.service, others.length]).toEqual(['api', 'sts', 0]);
    expect(api!.ok && sts!.ok).toBe(true);
    expect(Date.parse(api!.ready_at)).toBeLessThanOrEqual(Date.parse(sts!.restarted_at));
  }
  const written = await eventsNamed(e2e, id, 'written');
  expect(written.map((w) => [w.data.phase, (w.data.new as { kid: string }).kid])).toEqual([
    ['stage', keyIdOf(now)],
    ['deploy', keyIdOf(now)],
    ['retire', keyIdOf(now)],
  ]);
}, 240_000);

it('refuses to rotate a KEK that is missing instead of generating one, and restarts nothing', async () => {
  const saved = await readFile(kekFile(), 'utf8');
  await rm(kekFile());
  try {
    const { id, outcome } = await e2e.rotate({ material: 'ZONE_KEK' });
    expect(outcome).toBe('failed');
    const [failed] = await eventsNamed(e2e, id, 'failed');
    expect(failed!.data).toMatchObject({ stage: 'secret-writer', rolled_back: false });
    expect(String(failed!.data.error)).toMatch(/secretStoreKek has no current value to rotate/);
    await expect(readFile(kekFile(), 'utf8')).rejects.toThrow(/ENOENT/);
    expect((await eventsOf(e2e, id)).map((e) => e.name)).toEqual(['requested', 'planned', 'failed']);
  } finally {
    await writeFile(kekFile(), saved, { mode: 0o444 });
  }
}, 60_000);
