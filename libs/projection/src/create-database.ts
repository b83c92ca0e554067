import pg from 'pg';

// Losing a CREATE DATABASE race surfaces as either code, depending on timing:
// the catalog check (42P04) or the catalog's unique index (23505).
const ALREADY_EXISTS = new Set(['42P04', '23505']);
const INVALID_CATALOG_NAME = '3D000';
/** Databases every server has, to connect to while the target does not exist yet. */
const MAINTENANCE_DATABASES = ['postgres', 'template1'];

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

function databaseOf(url: URL): string {
  return decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres';
}

async function connectToMaintenance(url: URL): Promise<pg.Client> {
  let lastError: unknown;
  for (const name of MAINTENANCE_DATABASES) {
    const maintenance = new URL(url);
    maintenance.pathname = `/${name}`;
    const client = new pg.Client({ connectionString: maintenance.toString() });
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      if ((err as { code?: string }).code !== INVALID_CATALOG_NAME) throw err;
      lastError = err;
    }
  }
  throw lastError;
}

/**
 * Creates the database a DATABASE_URL names when it does not exist (the CLI
 * and services promise this). Replicas starting together may race;
 * the loser's "already exists" counts as success. Returns true when this call created it.
 */
export async function createDatabaseIfMissing(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = databaseOf(url);
  if (MAINTENANCE_DATABASES.includes(name)) return false;
  const client = await connectToMaintenance(url);
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
    return true;
  } catch (err) {
    if (ALREADY_EXISTS.has((err as { code?: string }).code ?? '')) return false;
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}
