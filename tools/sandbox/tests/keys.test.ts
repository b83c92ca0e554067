import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxProgram } from '../src/index.js';
import { freePorts } from '@caracal-rotation/launcher';
import { composeEnv } from '../src/up/compose-env.js';
import { sealEnvelope } from '../src/shared/css1.js';
import { bearer, metric, startTestFleet, type TestFleet } from './support/fleet.js';

/**
 * Zone signing keys in the STS (services/sts/internal/server.go, jwt.go,
 * db.go), the KEK keyring of api and sts, and the re-seal job
 * (apps/api/scripts/rotate-secret-store-kek.mjs).
 */

let fleet: TestFleet;
let sts: string;
let stsAdmin: string;

beforeAll(async () => {
  fleet = await startTestFleet({ zones: 2 });
  sts = fleet.sandbox.services.sts;
  stsAdmin = await fleet.secret('stsAdminToken');
}, 240_000);
afterAll(async () => {
  await fleet?.stop();
}, 120_000);

interface Jwk {
  kty: string;
  crv: string;
  use: string;
  kid: string;
  alg: string;
  x: string;
  y: string;
}
const jwks = async (zone: string) => {
  const res = await fetch(`${sts}/.well-known/jwks.json?zone_id=${encodeURIComponent(zone)}`);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, keys: res.status === 200 ? (JSON.parse(text) as { keys: Jwk[] }).keys : [] };
};
const rotate = (zone: string, token = stsAdmin) => fetch(`${sts}/internal/zones/${encodeURIComponent(zone)}/signing-key/rotate`, { method: 'POST', headers: bearer(token) });
const kekIdHex = (kekHex: string) => createHash('sha256').update(Buffer.from(kekHex, 'hex')).digest().subarray(0, 8).toString('hex');

describe('JWKS', () => {
  it('serves each seeded zone’s key as an ES256 P-256 JWK with Caracal’s headers', async () => {
    const { status, headers, text, keys } = await jwks(fleet.sandbox.zones[0]!);
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('public, max-age=300, must-revalidate');
    expect(headers.get('content-type')).toBe('application/json');
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(text.endsWith('}')).toBe(true);
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0]!)).toEqual(['kty', 'crv', 'use', 'kid', 'alg', 'x', 'y']);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256', kid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/) });
    const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: keys[0]!.x, y: keys[0]!.y }, format: 'jwk' });
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('wants a zone_id, and has no key for a zone it never signed for', async () => {
    const none = await fetch(`${sts}/.well-known/jwks.json`);
    expect([none.status, await none.text()]).toEqual([400, '{"error":"invalid_token","error_description":"zone_id required"}\n']);
    const unknown = await jwks('no-such-zone');
    expect([unknown.status, unknown.text]).toEqual([404, '{"error":"resource_not_found","error_description":"zone signing key not found"}\n']);
  });
});

describe('POST /internal/zones/{z}/signing-key/rotate (STS_ADMIN_TOKEN)', () => {
  it('refuses a wrong token with 401 unauthorized', async () => {
    const res = await rotate(fleet.sandbox.zones[0]!, 'f'.repeat(64));
    expect([res.status, await res.text(), res.headers.get('www-authenticate')]).toEqual([401, 'unauthorized\n', 'Bearer realm="caracal-sts"']);
  });

  it('rotates: the new kid first, the previous one still listed; a second rotation drops the first key', async () => {
    const zone = fleet.sandbox.zones[1]!;
    const [original] = (await jwks(zone)).keys;
    const res = await rotate(zone);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { kid: string };
    expect(Object.keys(body)).toEqual(['kid', 'rotated', 'zone_id']);
    expect(body).toMatchObject({ rotated: true, zone_id: zone });
    expect((await jwks(zone)).keys.map((k) => k.kid)).toEqual([body.kid, original!.kid]);
    const again = (await (await rotate(zone)).json()) as { kid: string };
    expect((await jwks(zone)).keys.map((k) => k.kid)).toEqual([again.kid, body.kid]);
  });

  it('lists the previous key only while the active key is under 24 hours old', async () => {
    const zone = fleet.sandbox.zones[1]!;
    const [active] = (await jwks(zone)).keys;
    const db = await fleet.admin();
    await db.query(`UPDATE secrets SET created_at = now() - interval '25 hours' WHERE id = $1`, [active!.kid]);
    expect((await jwks(zone)).keys.map((k) => k.kid)).toEqual([active!.kid]);
  });

  it('answers 500 for a zone that does not exist', async () => {
    const res = await rotate('no-such-zone');
    expect([res.status, await res.text()]).toEqual([500, '{"error":"internal_error","error_description":"signing key rotation failed"}\n']);
  });
});

/** Runs the re-seal job as the holders file describes it, with the database URL file given. */
function runReseal(databaseUrlFile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    SECRET_STORE_KEK_FILE: path.join(fleet.secretsDir, 'secretStoreKek'),
    SECRET_STORE_KEK_PREVIOUS_FILE: path.join(fleet.secretsDir, 'secretStoreKekPrevious'),
    DATABASE_URL_FILE: path.join(fleet.secretsDir, databaseUrlFile),
  };
  return new Promise((resolve) => {
    execFile(process.execPath, [sandboxProgram('reseal')], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const TABLES = [
  'secret_store',
  'secrets (zone signing keys)',
  'provider_connections.access_token_ct',
  'provider_connections.refresh_token_ct',
  'notification_sinks.secret_ct',
  'operator_plan_secrets',
];

describe('SECRET_STORE_KEK rotation and the re-seal job', () => {
  let oldKek: string;
  let newKek: string;
  const openAllZones = async () => {
    const db = await fleet.admin();
    const zones = (await db.query<{ id: string }>('SELECT id FROM zones')).rows.map((r) => r.id);
    return Promise.all(zones.map(async (z) => (await jwks(z)).status));
  };
  const rowsNotUnder = async (kekHex: string) => {
    const db = await fleet.admin();
    const id = kekIdHex(kekHex);
    const count = async (sql: string) => Number((await db.query<{ n: string }>(sql, [id])).rows[0]!.n);
    return (
      (await count(`SELECT count(*) AS n FROM secret_store WHERE encode(substring(envelope from 5 for 8), 'hex') <> $1`)) +
      (await count(`SELECT count(*) AS n FROM secrets WHERE encode(substring(envelope from 5 for 8), 'hex') <> $1`)) +
      (await count(`SELECT count(*) AS n FROM provider_connections WHERE encode(substring(access_token_ct from 5 for 8), 'hex') <> $1`)) +
      (await count(`SELECT count(*) AS n FROM provider_connections WHERE encode(substring(refresh_token_ct from 5 for 8), 'hex') <> $1`)) +
      (await count(`SELECT count(*) AS n FROM notification_sinks WHERE encode(substring(secret_ct from 5 for 8), 'hex') <> $1`)) +
      (await count(`SELECT count(*) AS n FROM operator_plan_secrets WHERE encode(substring(envelope from 5 for 8), 'hex') <> $1`))
    );
  };

  it('opens keys sealed under the old KEK while it is wired as the previous one, and seals new keys under the new one', async () => {
    oldKek = await fleet.secret('secretStoreKek');
    newKek = randomBytes(32).toString('hex');
    await fleet.writeSecret('secretStoreKek', newKek);
    await fleet.writeSecret('secretStoreKekPrevious', oldKek);
    await fleet.restart('sts');
    await fleet.restart('api');
    expect(new Set(await openAllZones())).toEqual(new Set([200]));
    const body = (await (await rotate(fleet.sandbox.zones[0]!)).json()) as { kid: string };
    const db = await fleet.admin();
    const row = await db.query<{ kek: string }>(`SELECT encode(substring(envelope from 5 for 8), 'hex') AS kek FROM secrets WHERE id = $1`, [body.kid]);
    expect(row.rows[0]!.kek).toBe(kekIdHex(newKek));
  });

  it('as the API role the job sees no row under row-level security, exits 0 and still says the old key can go', async () => {
    const run = await runReseal('apiDatabaseUrl');
    expect(run.code).toBe(0);
    // notification_sinks has no zone_isolation policy in Caracal's schema, so its row is the only one the API role reaches.
    expect(run.stdout).toBe(
      [
        'secret_store: 0 rows examined',
        'secrets (zone signing keys): 0 rows examined',
        'provider_connections.access_token_ct: 0 rows examined',
        'provider_connections.refresh_token_ct: 0 rows examined',
        'notification_sinks.secret_ct: 1 rows examined',
        'operator_plan_secrets: 0 rows examined',
        're-seal complete: 1 resealed, 0 already current, 0 rewritten by live services, 0 failed',
        'SECRET_STORE_KEK_PREVIOUS can now be removed from every service environment.',
        '',
      ].join('\n'),
    );
    expect(await rowsNotUnder(newKek)).toBeGreaterThan(0);
  });

  it('without the old KEK the STS cannot open un-resealed keys: the JWKS answers 500', async () => {
    await fleet.writeSecret('secretStoreKekPrevious', newKek);
    await fleet.restart('sts');
    const res = await jwks(fleet.sandbox.zones[1]!);
    expect([res.status, res.text]).toEqual([500, '{"error":"internal_error","error_description":"signing key decryption failed"}\n']);
    const metrics = await (await fetch(`${sts}/metrics`, { headers: bearer(await fleet.secret('metricsBearer')) })).text();
    expect(metric(metrics, 'caracal_sts_jwks_invalid_keys_total')).toBeGreaterThan(0);
    await fleet.writeSecret('secretStoreKekPrevious', oldKek);
    await fleet.restart('sts');
    expect((await jwks(fleet.sandbox.zones[1]!)).status).toBe(200);
  });

  it('as the admin role it re-seals every row under the new KEK, then finds them all current', async () => {
    const stale = await rowsNotUnder(newKek);
    const first = await runReseal('databaseUrl');
    expect(first.code).toBe(0);
    expect(first.stderr).toBe('');
    const lines = first.stdout.trim().split('\n');
    expect(lines.slice(0, 6).map((l) => l.replace(/: \d+ rows examined$/, ''))).toEqual(TABLES);
    expect(lines[6]).toMatch(new RegExp(`^re-seal complete: ${stale} resealed, \\d+ already current, 0 rewritten by live services, 0 failed$`));
    expect(lines[7]).toBe('SECRET_STORE_KEK_PREVIOUS can now be removed from every service environment.');
    expect(await rowsNotUnder(newKek)).toBe(0);
    const second = await runReseal('databaseUrl');
    expect(second.stdout).toMatch(/^re-seal complete: 0 resealed, \d+ already current, 0 rewritten by live services, 0 failed$/m);
  });

  it('after the re-seal the old KEK can go: every zone’s JWKS still answers 200', async () => {
    await fleet.writeSecret('secretStoreKekPrevious', newKek);
    await fleet.restart('sts');
    await fleet.restart('api');
    expect(new Set(await openAllZones())).toEqual(new Set([200]));
  });

  it('exits 1 and names the row when a value is sealed under a KEK it does not hold', async () => {
    const db = await fleet.admin();
    const zone = fleet.sandbox.zones[0]!;
    const ref = `zones/${zone}/applications/orphan/clientSecret`;
    await db.query('INSERT INTO secret_store (ref, zone_id, envelope) VALUES ($1, $2, $3)', [ref, zone, sealEnvelope(randomBytes(32), Buffer.from('x'), ref)]);
    const run = await runReseal('databaseUrl');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`secret_store: ${ref}: secret envelope was sealed under a different KEK`);
    expect(run.stdout).toMatch(/0 rewritten by live services, 1 failed\n$/);
    expect(run.stdout).not.toContain('can now be removed');
    await db.query('DELETE FROM secret_store WHERE ref = $1', [ref]);
  });
});

describe('secrets are read once at start; a missing or empty *_FILE is fatal', () => {
  /** Runs one service program with the compose environment, changed as asked, and returns how it ended. */
  async function runService(service: 'sts' | 'api', change: (env: Record<string, string>) => void): Promise<{ code: number; stderr: string }> {
    const env = composeEnv(service, fleet.secretsDir, fleet.home, { api: 1, sts: 1, gateway: 1, audit: 1, coordinator: 1 });
    change(env);
    return new Promise((resolve) => {
      execFile(process.execPath, [sandboxProgram('service'), service], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (err, _stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr });
      });
    });
  }

  it('the Go services panic (exit 2) on a missing or empty file', async () => {
    const missing = await runService('sts', (env) => (env.SECRET_STORE_KEK_FILE = path.join(fleet.secretsDir, 'noSuchFile')));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`panic: read secret file SECRET_STORE_KEK_FILE=${path.join(fleet.secretsDir, 'noSuchFile')}`);
    const emptyFile = path.join(fleet.runDir, 'empty');
    await writeFile(emptyFile, '\n');
    const empty = await runService('sts', (env) => (env.STREAMS_HMAC_KEY_FILE = emptyFile));
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain(`panic: secret file empty: STREAMS_HMAC_KEY_FILE=${emptyFile}`);
  });

  it('the Node services fail their start (exit 1)', async () => {
    const missing = await runService('api', (env) => (env.CARACAL_ADMIN_TOKEN_FILE = path.join(fleet.secretsDir, 'noSuchFile')));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ENOENT');
  });

  it('the STS without STS_ADMIN_TOKEN (the compose default) hides the rotate route: 404', async () => {
    const [port] = await freePorts(1);
    const env = composeEnv('sts', fleet.secretsDir, fleet.home, { api: 1, sts: port!, gateway: 1, audit: 1, coordinator: 1 });
    delete (env as Record<string, string | undefined>).STS_ADMIN_TOKEN_FILE;
    const child = spawn(process.execPath, [sandboxProgram('service'), 'sts'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    try {
      let res: Response | undefined;
      for (let i = 0; i < 200 && !res; i++) {
        res = await fetch(`http://127.0.0.1:${port}/internal/zones/${fleet.sandbox.zones[0]}/signing-key/rotate`, { method: 'POST', headers: bearer(stsAdmin) }).catch(() => undefined);
        if (!res) await new Promise((r) => setTimeout(r, 100));
      }
      expect([res?.status, await res?.text()]).toEqual([404, '404 page not found\n']);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

