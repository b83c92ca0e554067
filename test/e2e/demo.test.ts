import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { dropSchema, tempSecretsDir, testSchemaUrl } from '@caracal-rotation/testing';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
let schema: string | undefined;
afterAll(async () => {
  if (schema) await dropSchema(schema);
});

/** The README's first command, run as a user would, against the real servers. */
it('npm run demo rotates the demo materials end to end and records them', async () => {
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
  for (const material of ['AUDIT_HMAC_KEY', 'STREAMS_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN']) {
    expect(output).toContain(`── ${material} ──`);
  }
  expect(output).toMatch(/verified\(deploy\): ok/);

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ material: string; state: string }>('SELECT material, state FROM rotations');
    expect(rows.filter((r) => r.state === 'completed').map((r) => r.material).sort()).toEqual(
      ['AUDIT_HMAC_KEY', 'CARACAL_ADMIN_TOKEN', 'CARACAL_COORDINATOR_TOKEN', 'GATEWAY_STS_HMAC_KEY', 'STREAMS_HMAC_KEY'],
    );
  } finally {
    await client.end();
  }
}, 600_000);
