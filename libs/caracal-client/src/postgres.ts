import pg from 'pg';
import { noteCaracalRequest } from './observe.js';

export type LoginResult = { ok: true; detail: string } | { ok: false; code: string };

/** A pg or socket error's code (SQLSTATE or errno name), never its message (which may quote a URL). */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,32}$/.test(code) ? code : 'no code';
}

/** The SQLSTATE of a wrong password (invalid_password): the one answer that proves a password is refused. */
export const INVALID_PASSWORD = '28P01';
/** The role authenticated, but its database does not exist (Caracal's compose never creates caracal_auth). */
const NO_DATABASE = '3D000';

/**
 * Logs in to Caracal's Postgres as the role of `url` (a `<role>DatabaseUrl`)
 * with `password` instead of the one in the URL, and runs SELECT 1
 * (infra/postgres/scripts/migrate.sh sets each role's login password).
 */
export async function postgresLogin(url: string, password: string, opts: { timeoutMs?: number } = {}): Promise<LoginResult> {
  noteCaracalRequest('postgresLogin');
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new Error('the database URL is not a valid URL');
  }
  target.password = encodeURIComponent(password);
  const client = new pg.Client({ connectionString: target.toString(), connectionTimeoutMillis: opts.timeoutMs ?? 5_000, application_name: 'caracal-rotation-verifier' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true, detail: 'logged in' };
  } catch (err) {
    const code = errorCode(err);
    if (code === NO_DATABASE) return { ok: true, detail: `authenticated (its database does not exist: ${NO_DATABASE})` };
    return { ok: false, code };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The sealed columns Caracal's KEK re-seal job walks, with its filters
 * (apps/api/scripts/rotate-secret-store-kek.mjs): every one is a CSS1
 * envelope whose bytes 5–12 are the id of the KEK that sealed it
 * (packages/serverCore/ts/src/secretStore/envelope.ts).
 */
export const SEALED_COLUMNS = [
  { label: 'secret_store', table: 'secret_store', column: 'envelope', where: 'TRUE' },
  { label: 'secrets (zone signing keys)', table: 'secrets', column: 'envelope', where: "name = 'zone_signing_key'" },
  { label: 'provider_connections.access_token_ct', table: 'provider_connections', column: 'access_token_ct', where: 'access_token_ct IS NOT NULL' },
  { label: 'provider_connections.refresh_token_ct', table: 'provider_connections', column: 'refresh_token_ct', where: 'refresh_token_ct IS NOT NULL' },
  { label: 'notification_sinks.secret_ct', table: 'notification_sinks', column: 'secret_ct', where: 'TRUE' },
  { label: 'operator_plan_secrets', table: 'operator_plan_secrets', column: 'envelope', where: 'expires_at > now()' },
] as const;

export interface SealedCount {
  column: string;
  /** The label the re-seal job prints for this column (`<label>: N rows examined`). */
  label: string;
  rows: number;
}

async function withAdmin<T>(adminUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000, statement_timeout: 60_000, application_name: 'caracal-rotation-verifier' });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to Caracal's Postgres as the admin role (${errorCode(err)})`);
  }
  try {
    return await run(client);
  } catch (err) {
    throw new Error(`a query of the sealed tables failed (${errorCode(err)})`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Rows per sealed column whose envelope is not under the KEK with id
 * `kekId` (8 bytes), counted as the admin role: row-level security hides
 * every sealed row from the service roles.
 */
export async function countRowsNotOnKek(adminUrl: string, kekId: Buffer): Promise<SealedCount[]> {
  noteCaracalRequest('kekRowsNotOnKek');
  if (kekId.length !== 8) throw new Error('a KEK id is 8 bytes');
  return withAdmin(adminUrl, async (client) => {
    const out: SealedCount[] = [];
    for (const c of SEALED_COLUMNS) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${c.table} WHERE ${c.where} AND substring(${c.column} from 5 for 8) <> $1`, [kekId]);
      out.push({ column: `${c.table}.${c.column}`, label: c.label, rows: Number(rows[0]!.n) });
    }
    return out;
  });
}

/** Rows per sealed column, whatever their KEK, counted as the admin role. */
export async function countSealedRows(adminUrl: string): Promise<SealedCount[]> {
  noteCaracalRequest('kekRowsNotOnKek');
  return withAdmin(adminUrl, async (client) => {
    const out: SealedCount[] = [];
    for (const c of SEALED_COLUMNS) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${c.table} WHERE ${c.where}`);
      out.push({ column: `${c.table}.${c.column}`, label: c.label, rows: Number(rows[0]!.n) });
    }
    return out;
  });
}
