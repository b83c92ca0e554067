import pg from 'pg';
import { scramPasswordLiteral } from '../stores/scram.js';
import { startSandboxPostgres, type SandboxPostgres } from '../stores/postgres.js';
import { DB_ROLES, readSecretFile } from './secrets.js';
import { rolesSql, SCHEMA_SQL } from './schema.js';

/**
 * The private PostgreSQL of a sandbox, prepared as `caracal up` prepares
 * Caracal's: the image's initdb (superuser `caracal` with postgresPassword,
 * scram-sha-256 for every connection, database `caracal`), the dbMigrate job
 * (the schema, then `ALTER ROLE caracal<svc> WITH LOGIN PASSWORD` from each
 * `<svc>DbPassword`, infra/postgres/scripts/migrate.sh), and the web service's
 * own database `caracal_auth`, owned by caracalauth (the auth service creates
 * it with its CREATEDB grant; the sandbox has no web service).
 */
export async function startCaracalPostgres(secretsDir: string, port: number): Promise<SandboxPostgres> {
  const password = await readSecretFile(secretsDir, 'postgresPassword');
  const server = await startSandboxPostgres({ port, superuser: 'caracal', password });
  try {
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    try {
      await admin.query('CREATE DATABASE caracal');
    } finally {
      await admin.end();
    }
    const caracalUrl = new URL(server.adminUrl);
    caracalUrl.pathname = '/caracal';
    const db = new pg.Client({ connectionString: caracalUrl.toString() });
    await db.connect();
    try {
      await db.query('BEGIN');
      await db.query(rolesSql());
      await db.query(SCHEMA_SQL);
      await db.query('COMMIT');
      for (const role of DB_ROLES) {
        const rolePassword = await readSecretFile(secretsDir, `${role}DbPassword`);
        // A SCRAM verifier, so the password never appears in a statement.
        await db.query(`ALTER ROLE ${db.escapeIdentifier(`caracal${role}`)} WITH LOGIN PASSWORD ${db.escapeLiteral(scramPasswordLiteral(rolePassword))}`);
      }
      await db.query('CREATE DATABASE caracal_auth OWNER caracalauth');
    } finally {
      await db.end();
    }
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}
