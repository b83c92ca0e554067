import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisClient } from '@caracal-rotation/bus';
import { MATERIALS } from '@caracal-rotation/contracts';
import { deleteKeys, dropSchema, testSchemaUrl, uniqueName } from '@caracal-rotation/testing';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { processesWhere } from '../support/processes.js';

/**
 * The README's first command, `npm run demo`, run as a user runs it: it
 * builds, starts the sandbox replica of Caracal and the five services, rotates
 * every material through `caracal-rotate request … --wait`, prints what the
 * recorder wrote to Postgres, and stops everything it started.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const prefix = `${uniqueName('e2e-demo')}.caracal.rotation`;
let db: { url: string; schema: string };
let demoDir: string;

beforeAll(async () => {
  db = await testSchemaUrl('e2e_demo');
  demoDir = await mkdtemp(join(tmpdir(), 'caracal-e2e-demo-'));
});
afterAll(async () => {
  const redis = createRedisClient({ url: process.env.REDIS_URL! });
  for (const keys of [prefix, `{${prefix}}`, `seen:${prefix}`]) await deleteKeys(redis, keys);
  redis.disconnect();
  if (db) await dropSchema(db.schema);
  if (demoDir) await rm(demoDir, { recursive: true, force: true });
});

function runDemo(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'demo'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url, STREAM_PREFIX: prefix, DEMO_DIR: demoDir, NX_DAEMON: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // A demo that hangs is stopped (SIGTERM) before the test gives up on it.
      timeout: 280_000,
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

it('rotates every material end to end, prints the recorded history, and stops what it started', async () => {
  const { code, output } = await runDemo();
  expect(code, output).toBe(0);
  expect(output).toMatch(/All rotations completed\./);

  // One section per material, each ending with the rotation's outcome.
  const sections = output.split(/\n── /).slice(1);
  for (const material of MATERIALS) {
    const section = sections.find((s) => s.startsWith(`${material} `) || s.startsWith(`${material} ──`));
    expect(section, `a section for ${material}`).toBeDefined();
    expect(section!).toMatch(/verified\(deploy\): ok/);
    expect(section!).toMatch(/Rotation [0-9a-f-]{36}: completed\./);
  }

  // What the recorder wrote, as the demo printed it and as Postgres holds it.
  const history = sections.find((s) => s.startsWith('what the recorder wrote to Postgres'))!;
  expect(history).toBeDefined();
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ rotation_id: string; material: string; state: string; batch_parent: boolean }>(
      `SELECT rotation_id, material, state, rotation_id IN (SELECT batch_id FROM rotations WHERE batch_id IS NOT NULL) AS batch_parent FROM rotations`,
    );
    // The request for every zone is a batch: each zone's rotation completes, and so, then, does the batch's own row.
    const rotations = rows.filter((r) => !r.batch_parent);
    expect(rotations.every((r) => r.state === 'completed'), JSON.stringify(rows)).toBe(true);
    expect(new Set(rotations.map((r) => r.material))).toEqual(new Set(MATERIALS));
    expect(rotations.filter((r) => r.material === 'ZONE_SIGNING_KEY')).toHaveLength(3);
    expect(rows.filter((r) => r.batch_parent).map((r) => [r.material, r.state])).toEqual([['ZONE_SIGNING_KEY', 'completed']]);
    for (const row of rotations) expect(history).toMatch(new RegExp(`${row.rotation_id}\\s+${row.material}\\s.*\\scompleted\\s`));
    expect(history).toMatch(/Material status/);
    expect(history).toMatch(/No rotation in flight\./);
  } finally {
    await client.end();
  }
  expect(output).toMatch(/stopping …/);
  // Nothing it started is left: no process runs on the demo's directory any more.
  const left = await processesWhere((p) => [...p.argv, ...p.environ].some((s) => s.includes(demoDir)));
  expect(left.map((p) => p.argv.join(' '))).toEqual([]);
}, 300_000);
