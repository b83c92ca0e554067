import { createHash, createHmac } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DEFAULT_CATALOG, catalogEntry, holdersConfigSchema, newRotationId, type CatalogEntry, type Plan } from '@caracal-rotation/contracts';
import { buildPlan, validateRequest } from '@caracal-rotation/planning';
import { bootstrapPostgresRoles, startSandboxPostgres, type SandboxPostgres } from '@caracal-rotation/sandbox';
import { keyIdOf, FileSecretStore } from '@caracal-rotation/secrets';
import { tempSecretsDir } from '@caracal-rotation/testing';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WriteRefused, type WriteContext } from './material-writer.js';
import { PostgresRoleWriter, scramSha256Verifier } from './postgres-role-writer.js';

const target = { admin_url_file: 'postgresAdminUrl' };
const URL_TEMPLATE = 'postgres://{user}:{password}@postgres:5432/caracal';
const entry = catalogEntry(DEFAULT_CATALOG, 'POSTGRES_PASSWORD')!;
const holders = holdersConfigSchema.parse({ version: 2, services: {} });
const ROLES = ['api', 'sts'];
let server: SandboxPostgres;
let dir: string;
let store: FileSecretStore;
let writer: PostgresRoleWriter;

function planFor(role: string): Plan {
  const verdict = validateRequest({ material: 'POSTGRES_PASSWORD', role: role === 'ghost' ? 'api' : role, reason: 'test' }, DEFAULT_CATALOG);
  if (!verdict.ok) throw new Error(verdict.message);
  const plan = buildPlan(verdict.request, { requestedAt: new Date().toISOString(), actor: 'a', streamPrefix: 'p', holders });
  return role === 'ghost' ? { ...plan, role, secret: { ...plan.secret!, file: 'ghostDbPassword' }, derived: ['ghostDatabaseUrl'] } : plan;
}

/** A write context as the secret-writer gives it, with a record that only this test keeps. */
function ctxFor(role: string, rotationId = newRotationId(), catalogEntryFor: CatalogEntry = entry): WriteContext {
  const ghost: CatalogEntry = { ...entry, roles: { ...entry.roles, ghost: { db_role: 'caracalghost', holders: [] } } };
  return { rotationId, plan: planFor(role), entry: role === 'ghost' ? ghost : catalogEntryFor, state: { applied: [], outcomes: {} }, note: async () => undefined };
}

const read = (name: string) => readFile(join(dir, name), 'utf8').catch(() => undefined);

/** Logs in to the private server as `user` with `password`: 'ok' or the error code (28P01 for a wrong password). */
async function login(user: string, password: string): Promise<string> {
  const url = new URL(server.adminUrl);
  url.username = user;
  url.password = password;
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    return String((err as { code?: unknown }).code ?? 'no code');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: server.adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  server = await startSandboxPostgres();
  // Every statement goes to the server log, so the test can look for passwords there.
  await admin(`ALTER SYSTEM SET log_statement = 'all'`);
  await admin('SELECT pg_reload_conf()');
});
afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  for (const role of ROLES) await admin(`DROP ROLE IF EXISTS caracal${role}`);
  dir = await tempSecretsDir();
  await bootstrapPostgresRoles(server.adminUrl, dir, { roles: ROLES, roleTemplate: 'caracal{role}', databaseUrlTemplate: URL_TEMPLATE });
  store = new FileSecretStore({ dir });
  writer = new PostgresRoleWriter(store, target);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('postgres-role writer', () => {
  it('deploys: the new password logs in, the old one is refused, both files are re-rendered', async () => {
    const old = (await read('apiDbPassword'))!;
    const oldUrl = await read('apiDatabaseUrl');
    expect(await login('caracalapi', old)).toBe('ok');

    const ctx = ctxFor('api');
    const deployed = await writer.write('deploy', ctx);
    const next = (await read('apiDbPassword'))!;
    expect(next).toMatch(/^[0-9a-f]{48}$/);
    expect(next).not.toBe(old);
    expect(deployed).toEqual({ new: { kid: keyIdOf(next), location: join(dir, 'apiDbPassword') }, previous: { kid: keyIdOf(old) }, changed: true });
    expect(await read('apiDatabaseUrl')).toBe(`postgres://caracalapi:${next}@postgres:5432/caracal`);
    expect(await read('apiDatabaseUrl')).not.toBe(oldUrl);
    expect((await stat(join(dir, 'apiDbPassword'))).mode & 0o777).toBe(0o444);
    expect((await stat(join(dir, 'apiDatabaseUrl'))).mode & 0o777).toBe(0o444);
    expect(await read('apiDbPasswordPrevious')).toBeUndefined();
    // The URL keeps its user, host and database: only the password changed.

    expect(await login('caracalapi', next)).toBe('ok');
    expect(await login('caracalapi', old)).toBe('28P01');
    // Only the rotated role changed.
    expect(await login('caracalsts', (await read('stsDbPassword'))!)).toBe('ok');
  });

  it('repeats deploy with the same password (a retried writer ends in the same state)', async () => {
    const ctx = ctxFor('api');
    const first = await writer.write('deploy', ctx);
    const next = await read('apiDbPassword');
    const again = await new PostgresRoleWriter(store, target).write('deploy', ctx);
    expect(again).toEqual(first);
    expect(await read('apiDbPassword')).toBe(next);
    expect(await login('caracalapi', next!)).toBe('ok');
  });

  it('two replicas deploying the same rotation at once agree on one password', async () => {
    const ctx = ctxFor('api');
    const [a, b] = await Promise.all([writer.write('deploy', ctx), new PostgresRoleWriter(store, target).write('deploy', ctx)]);
    expect(a.new.kid).toBe(b.new.kid);
    expect(await login('caracalapi', (await read('apiDbPassword'))!)).toBe('ok');
  });

  it('has nothing to change at retire', async () => {
    const old = (await read('apiDbPassword'))!;
    const ctx = ctxFor('api');
    const deployed = await writer.write('deploy', ctx);
    const next = await read('apiDbPassword');
    const retired = await writer.write('retire', ctx);
    expect(retired).toEqual({ ...deployed, changed: false });
    expect(await read('apiDbPassword')).toBe(next);
    expect(await login('caracalapi', next!)).toBe('ok');
    expect(await login('caracalapi', old)).toBe('28P01');
  });

  it('rolls back: the old password logs in again, the new one is refused, the files are exactly as before', async () => {
    const old = (await read('apiDbPassword'))!;
    const oldUrl = await read('apiDatabaseUrl');
    const ctx = ctxFor('api');
    await writer.write('deploy', ctx);
    const next = (await read('apiDbPassword'))!;

    const back = await writer.write('rollback', ctx);
    expect(back).toEqual({ new: { kid: keyIdOf(old), location: join(dir, 'apiDbPassword') }, previous: { kid: keyIdOf(next) }, changed: true });
    expect(await read('apiDbPassword')).toBe(old);
    expect(await read('apiDatabaseUrl')).toBe(oldUrl);
    expect(await login('caracalapi', old)).toBe('ok');
    expect(await login('caracalapi', next)).toBe('28P01');
    // Repeating the rollback changes nothing more.
    await writer.write('rollback', ctx);
    expect(await read('apiDbPassword')).toBe(old);
    expect(await login('caracalapi', old)).toBe('ok');
  });

  it('re-renders only derived files that exist (it cannot guess where a missing URL should point), and rollback leaves them so', async () => {
    await store.remove('stsDatabaseUrl');
    const ctx = ctxFor('sts');
    await writer.write('deploy', ctx);
    expect(await read('stsDatabaseUrl')).toBeUndefined();
    await writer.write('rollback', ctx);
    expect(await read('stsDatabaseUrl')).toBeUndefined();
  });

  it('refuses a role that does not exist, a stage phase, a plan without role and a missing admin URL', async () => {
    const ctx = ctxFor('ghost');
    await store.write('ghostDbPassword', 'ab'.repeat(24));
    await expect(writer.write('deploy', ctx)).rejects.toThrow(WriteRefused);
    await expect(writer.write('deploy', ctx)).rejects.toThrow(/caracalghost does not exist \(42704\)/);
    expect(await read('ghostDbPassword')).toBe('ab'.repeat(24));

    await expect(writer.write('stage', ctxFor('api'))).rejects.toThrow(WriteRefused);
    await expect(writer.write('deploy', { ...ctxFor('api'), plan: { ...planFor('api'), role: undefined } })).rejects.toThrow(WriteRefused);

    await store.remove('postgresAdminUrl');
    await expect(writer.write('deploy', ctxFor('api'))).rejects.toThrow(/postgresAdminUrl is missing/);
  });

  it('refuses to rotate a role whose password file is missing', async () => {
    await store.remove('apiDbPassword');
    await expect(writer.write('deploy', ctxFor('api'))).rejects.toMatchObject({ code: 'secret_file_missing' });
  });
});

describe('no password leaks', () => {
  it('puts no password into an error, a non-secret file or the Postgres statement log', async () => {
    const adminPassword = new URL(server.adminUrl).password;
    const old = (await read('apiDbPassword'))!;
    const ctx = ctxFor('api');
    await writer.write('deploy', ctx);
    const next = (await read('apiDbPassword'))!;
    await writer.write('rollback', ctx);
    const secrets = [adminPassword, old, next];

    const errors: unknown[] = [];
    const capture = (p: Promise<unknown>) => p.then(() => expect.unreachable('should have failed'), (err: unknown) => errors.push(err));
    // The role is gone (a Postgres error), then the server is unreachable (a socket error).
    await admin('DROP ROLE caracalsts');
    await capture(writer.write('deploy', ctxFor('sts')));
    await store.write('postgresAdminUrl', `postgres://postgres:${adminPassword}@127.0.0.1:1/postgres`);
    await capture(writer.write('deploy', ctxFor('api')));
    await store.write('postgresAdminUrl', 'not a url');
    await capture(writer.write('rollback', ctx));
    expect(errors).toHaveLength(3);
    for (const err of errors) {
      const text = `${String(err)} ${(err as Error).stack ?? ''} ${JSON.stringify(err)}`;
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect((err as Error).cause).toBeUndefined();
    }
    expect((errors[1] as Error).message).toMatch(/ECONNREFUSED/);

    // Only the secret files (and their private history) hold passwords.
    const allowed = new Set(['apiDbPassword', 'apiDatabaseUrl', 'stsDbPassword', 'stsDatabaseUrl', 'postgresAdminUrl']);
    for (const file of await walk(dir)) {
      const name = relative(dir, file);
      if (allowed.has(name) || name.startsWith('.history/')) continue;
      const text = await readFile(file, 'utf8');
      for (const secret of secrets) expect(text, name).not.toContain(secret);
    }

    // ALTER ROLE carried a SCRAM verifier, never the cleartext.
    const log = server.log();
    expect(log).toMatch(/ALTER ROLE "caracalapi" PASSWORD 'SCRAM-SHA-256\$4096:/);
    expect(log).not.toContain(old);
    expect(log).not.toContain(next);
  });
});

describe('helpers', () => {
  it('computes the SCRAM-SHA-256 verifier of RFC 7677 (the verifier psql would store)', () => {
    // RFC 7677 §3: password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
    const verifier = scramSha256Verifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
    const m = /^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(verifier);
    expect(m).not.toBeNull();
    const [storedKey, serverKey] = [Buffer.from(m![1]!, 'base64'), Buffer.from(m![2]!, 'base64')];
    // The exchange of the RFC: the server's signature and the client's proof follow from the two keys.
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    expect(createHmac('sha256', serverKey).update(authMessage).digest('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest();
    const clientProof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const clientKey = Buffer.from(clientProof.map((b, i) => b ^ clientSignature[i]!));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);
  });

});

async function walk(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const full = join(root, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else out.push(full);
  }
  return out;
}
