import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { keyIdOf } from '@caracal-rotation/secrets';
import { readStream } from '@caracal-rotation/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startE2E, type E2E } from '../support/e2e-stack.js';

const SEALED = 150;
let e2e: E2E;
beforeAll(async () => {
  e2e = await startE2E('kek', { seed: { sealedSecrets: SEALED }, resealPauseMs: 150 });
}, 180_000);
afterAll(async () => e2e?.stop(), 60_000);

/** Re-seal jobs of this test's stack only (other suites may run theirs at the same time). */
const resealPids = (): number[] => {
  let pids: number[] = [];
  try {
    pids = execFileSync('pgrep', ['-f', 'sandbox/dist/reseal.js'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(e2e.secretsDir);
    } catch {
      return false;
    }
  });
};

it('rotates ZONE_KEK with a re-seal that survives being killed halfway, and nothing sealed is lost', async () => {
  const before = (await readFile(join(e2e.secretsDir, 'secretStoreKek'), 'utf8')).trim();
  const rotation = e2e.rotate({ material: 'SECRET_STORE_KEK' }, 180_000);

  // Kill the re-seal job once, after it has committed a batch or two.
  let killed = false;
  const deadline = Date.now() + 120_000;
  while (!killed && Date.now() < deadline) {
    const pids = resealPids();
    if (pids.length > 0) {
      await new Promise((r) => setTimeout(r, 400));
      for (const pid of resealPids()) process.kill(pid, 'SIGKILL');
      killed = true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(killed).toBe(true);

  const { id, outcome } = await rotation;
  expect(outcome).toBe('completed');
  const after = (await readFile(join(e2e.secretsDir, 'secretStoreKek'), 'utf8')).trim();
  expect(after).not.toBe(before);

  const deploy = (await readStream(e2e.redis, e2e.operator.streams.verified)).find((v) => v.fields.rotation_id === id && v.data.phase === 'deploy')!;
  const reseal = (deploy.data.checks as { name: string; ok: boolean; detail: string }[]).find((c) => c.name === 'kek_reseal')!;
  expect(reseal.ok).toBe(true);
  expect(reseal.detail).toMatch(/killed by SIGKILL/);
  expect(reseal.detail).toMatch(/ 0 failed/);

  // Every sealed value opens under the new KEK alone, in the API restarted without the old one.
  const admin = (await readFile(join(e2e.secretsDir, 'caracalAdminToken'), 'utf8')).trim();
  const res = await fetch(`${e2e.stack.fleet!.url('api')}/internal/sealed/check`, { headers: { authorization: `Bearer ${admin}` } });
  const check = (await res.json()) as { total: number; opened: number; failed: number; by_kek_id: Record<string, number> };
  expect(check).toMatchObject({ total: SEALED, opened: SEALED, failed: 0 });
  expect(Object.keys(check.by_kek_id)).toEqual([keyIdOf(after)]);
}, 240_000);

it('refuses to rotate a key-encryption key that is missing instead of generating one', async () => {
  const { rm } = await import('node:fs/promises');
  const path = join(e2e.secretsDir, 'secretStoreKek');
  const saved = await readFile(path, 'utf8');
  await rm(path);
  try {
    const { id, outcome } = await e2e.rotate({ material: 'ZONE_KEK' });
    expect(outcome).toBe('rejected');
    const [answer] = (await readStream(e2e.redis, e2e.operator.streams.rejected)).filter((r) => r.fields.rotation_id === id);
    expect(answer!.data.reason_code).toBe('material_missing');
  } finally {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, saved, { mode: 0o444 });
  }
}, 60_000);
