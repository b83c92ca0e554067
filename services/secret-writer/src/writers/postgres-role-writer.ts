import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Phase } from '@caracal-rotation/contracts';
import { keyIdOf, type SecretStore } from '@caracal-rotation/secrets';
import { TransientError } from '@caracal-rotation/bus';
import pg from 'pg';
import type { PhaseOutcome } from '../rotation-record.js';
import { WriteRefused, type MaterialWriter, type WriteContext } from './material-writer.js';
import { RotationHistory } from './rotation-history.js';
import { withPassword } from './url-password.js';

export interface PostgresRoleTarget {
  /** The store file holding Caracal's admin database URL (the `caracal` role can ALTER every role). */
  admin_url_file: string;
}

export interface PostgresRoleWriterOptions {
  /** Connect timeout of the admin connection. */
  connectTimeoutMs?: number;
  /** Statement timeout of ALTER ROLE (it waits for no lock in practice). */
  statementTimeoutMs?: number;
}

/**
 * Rotates the password of a Postgres role (catalog writer `postgres-role`,
 * overlap `none`: a role holds one password).
 *
 * - deploy: `ALTER ROLE … PASSWORD` through the admin connection, then the
 *   password file (`<role>DbPassword`) and the derived files
 *   (`<role>DatabaseUrl`) are written. The old password stops working here.
 * - retire: nothing to change (`changed: false`); the safety window is the
 *   pool max lifetime of the holders.
 * - rollback: the old password is set again and the files are restored
 *   exactly as they were before the rotation (from the version history).
 *
 * As FileWriter does, the state before the rotation and the new password are
 * recorded in the version history once, so a retried phase repeats the same
 * statement and writes the same files.
 *
 * The password is sent as a SCRAM-SHA-256 verifier computed here (what psql's
 * `\password` does), so the cleartext never reaches the server, its
 * statement log or pg_stat_activity. Errors name the role and the SQLSTATE
 * only: a Postgres error can quote the statement.
 */
export class PostgresRoleWriter implements MaterialWriter {
  private readonly history: RotationHistory;

  constructor(
    private readonly store: SecretStore,
    private readonly target: PostgresRoleTarget,
    private readonly options: PostgresRoleWriterOptions = {},
  ) {
    this.history = new RotationHistory(store);
  }

  async write(phase: Phase, { rotationId, plan, entry }: WriteContext): Promise<PhaseOutcome> {
    if (phase === 'stage') throw new WriteRefused(`${plan.material}: a Postgres role holds one password, so there is no stage phase (overlap must be none)`);
    if (!plan.secret) throw new WriteRefused(`${plan.material} has no secret file in its plan`);
    const dbRole = plan.role ? entry.roles?.[plan.role]?.db_role : undefined;
    if (!dbRole) throw new WriteRefused(`${plan.material}: the catalog knows no Postgres role for ${plan.role ?? '(none)'}`);
    const role = dbRole;
    const file = plan.secret.file;
    const derived = plan.derived;

    const before = await this.history.snapshot(rotationId, file, derived);
    const next = await this.history.newValue(rotationId, file, plan.format);
    const location = this.store.location(file);

    switch (phase) {
      case 'deploy':
        await this.setPassword(role, next);
        await this.store.write(file, next);
        for (const name of derived) {
          const url = before.companions.get(name);
          if (url) await this.store.write(name, withPassword(url, next));
        }
        return { new: { kid: keyIdOf(next), location }, previous: { kid: keyIdOf(before.primary) }, changed: true };
      case 'retire':
        // The old password stopped working at deploy; Postgres keeps no second one.
        return { new: { kid: keyIdOf(next), location }, previous: { kid: keyIdOf(before.primary) }, changed: false };
      case 'rollback':
        await this.setPassword(role, before.primary);
        await this.history.restore(file, derived, before);
        return { new: { kid: keyIdOf(before.primary), location }, previous: { kid: keyIdOf(next) }, changed: true };
    }
  }

  private async adminUrl(): Promise<string> {
    const url = await this.store.read(this.target.admin_url_file);
    if (!url) throw new WriteRefused(`the Postgres admin URL ${this.store.location(this.target.admin_url_file)} is missing or empty`);
    return url;
  }

  /** ALTER ROLE through the admin connection; every error is replaced by one naming the role and the SQLSTATE. */
  private async setPassword(role: string, password: string): Promise<void> {
    const adminUrl = await this.adminUrl();
    let client: pg.Client;
    try {
      client = new pg.Client({
        connectionString: adminUrl,
        connectionTimeoutMillis: this.options.connectTimeoutMs ?? 5000,
        statement_timeout: this.options.statementTimeoutMs ?? 10_000,
        application_name: 'caracal-secret-writer',
      });
    } catch {
      throw new WriteRefused(`the Postgres admin URL in ${this.target.admin_url_file} is not a valid connection URL`);
    }
    client.on('error', () => undefined);
    try {
      try {
        await client.connect();
      } catch (err) {
        // Retried for minutes: the server may be restarting.
        throw new TransientError(`cannot connect to Postgres with ${this.target.admin_url_file} to set the password of role ${role} (${errorCode(err)})`);
      }
      const literal = passwordLiteral(password);
      try {
        // Two replicas altering one role at once fail with "tuple concurrently
        // updated"; a transaction-scoped advisory lock puts them in line.
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`caracal-rotation:role:${role}`]);
        await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} PASSWORD ${client.escapeLiteral(literal)}`);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        const code = errorCode(err);
        if (code === '42704') throw new WriteRefused(`Postgres role ${role} does not exist (42704); bootstrap creates it`);
        if (code === '42501') throw new WriteRefused(`the admin connection may not change the password of Postgres role ${role} (42501)`);
        throw new Error(`ALTER ROLE ${role} PASSWORD failed (${code})`);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** A pg or socket error's code (SQLSTATE or errno name), never its message. */
function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,32}$/.test(code) ? code : 'no code';
}

const SCRAM_ITERATIONS = 4096;

/**
 * What goes into `PASSWORD '…'`: a SCRAM-SHA-256 verifier (RFC 5802/7677, in
 * Postgres' `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` form), which
 * the server stores as is. SASLprep leaves printable ASCII unchanged, which
 * covers Caracal's hex passwords; any other password is sent as is and
 * hashed by the server.
 */
export function passwordLiteral(password: string): string {
  if (!/^[\x20-\x7e]+$/.test(password)) return password;
  return scramSha256Verifier(password, randomBytes(16), SCRAM_ITERATIONS);
}

export function scramSha256Verifier(password: string, salt: Buffer, iterations: number): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
