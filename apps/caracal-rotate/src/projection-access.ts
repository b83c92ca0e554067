import { getRotation, type RotationDetail } from '@caracal-rotation/projection';
import pg from 'pg';
import { EXIT, UsageError, requireServers, type CliEnvironment } from './environment.js';

const databaseName = (url: string): string => `${new URL(url).pathname.slice(1) || 'postgres'} on ${new URL(url).host}`;

/** Postgres errors an operator can act on, turned into what to do about them. */
function explain(err: unknown, env: CliEnvironment): UsageError | undefined {
  const code = (err as { code?: string }).code;
  if (code === '3D000') {
    return new UsageError(
      `the database ${databaseName(env.databaseUrl)} does not exist yet: the recorder creates it when it starts (caracal-rotate up), or set DATABASE_URL to the projection's database`,
      EXIT.unavailable,
    );
  }
  if (code === '42P01') {
    return new UsageError(`the projection's tables are missing in ${databaseName(env.databaseUrl)}: start the recorder once (caracal-rotate up) so it migrates the database`, EXIT.unavailable);
  }
  if (code === 'ECONNREFUSED' || code === '57P03') {
    return new UsageError(`PostgreSQL does not answer at ${new URL(env.databaseUrl).host}; start it or set DATABASE_URL`, EXIT.unavailable);
  }
  return undefined;
}

/** Runs `fn` with a small pool on the recorder's projection (read side), closing it after. */
export async function withProjection<T>(env: CliEnvironment, fn: (db: pg.Pool) => Promise<T>): Promise<T> {
  await requireServers(env, { postgres: true });
  const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
  // An idle client's error (server restart) must not crash a short-lived CLI.
  pool.on('error', () => undefined);
  try {
    return await fn(pool);
  } catch (err) {
    throw explain(err, env) ?? err;
  } finally {
    await pool.end();
  }
}

/** The rotation's row and plan, or exit 1 saying where the CLI looked. */
export async function requireRotation(db: pg.Pool, env: CliEnvironment, id: string): Promise<RotationDetail> {
  const record = await getRotation(db, id);
  if (!record) throw new UsageError(`no rotation ${id} in the projection (${databaseName(env.databaseUrl)}); check the id with caracal-rotate list, or DATABASE_URL`, EXIT.failed);
  return record;
}
