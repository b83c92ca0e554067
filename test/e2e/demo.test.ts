import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { dropSchema, tempSecretsDir, testSchemaUrl } from '@caracal-rotation/testing';
import { DEFAULT_CATALOG } from '@caracal-rotation/contracts';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const MATERIALS = [...DEFAULT_CATALOG.materials.map((m) => m.material)];
let schema: string | undefined;
afterAll(async () => {
  if (schema) await dropSchema(schema);
});

/** The README's first command, run as a user would, against the real servers. */
it('npm run demo rotates every material of the catalog end to end and records them', async () => {
  const secretsDir = await tempSecretsDir();
  const db = await testSchemaUrl('e2e_demo');
  schema = db.schema;
  const child = spawn('npm', ['run', '--silent', 'demo'], {
    cwd: ROOT,
    env: { ...process.env, CARACAL_SECRETS_DIR: secretsDir, DATABASE_URL: db.url, STREAM_PREFIX: `${db.schema}.caracal.rotation` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, output).toBe(0);
  expect(output).toMatch(/All rotations completed\./);
  for (const material of MATERIALS) expect(output).toMatch(new RegExp(`── ${material}( \\(.*\\))? ──`));
  expect(output).toMatch(/verified\(deploy\): ok/);

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ material: string; state: string }>('SELECT material, state FROM rotations WHERE rotation_id NOT IN (SELECT batch_id FROM rotations WHERE batch_id IS NOT NULL)');
    expect(rows.every((r) => r.state === 'completed')).toBe(true);
    expect(new Set(rows.map((r) => r.material))).toEqual(new Set(MATERIALS));
    expect(rows.filter((r) => r.material === 'ZONE_SIGNING_KEY')).toHaveLength(3);
  } finally {
    await client.end();
  }
}, 600_000);
