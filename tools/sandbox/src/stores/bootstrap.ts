import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { scramPasswordLiteral } from './scram.js';
import { ensureSecret, ensureSecretsDir, renderUrlTemplate, replaceSecret } from './secret-files.js';

/** Caracal's passwords: lowercase hex of 24 random bytes (packages/engine/src/secrets.ts). */
const newPassword = () => randomBytes(24).toString('hex');

export interface PostgresRolesOptions {
  /** Catalog roles (`api`, `sts`, …): files `<role>DbPassword` and `<role>DatabaseUrl`. */
  roles: readonly string[];
  /** Postgres role of a catalog role; `{role}` is replaced (holders file `postgres.role_template`). */
  roleTemplate: string;
  /** Derived URL; `{user}` and `{password}` are replaced (holders file `postgres.database_url_template`). */
  databaseUrlTemplate: string;
  /** File the admin URL is written to (holders file `postgres.admin_url_file`). */
  adminUrlFile?: string;
}

export interface PostgresRolesResult {
  /** Postgres role names created now (the others existed and were left alone). */
  created: string[];
}

/**
 * What Caracal's bootstrap does for database roles, against a server the
 * sandbox controls: every catalog role gets a LOGIN role with the password
 * of `<role>DbPassword` (the file is created when missing, 24 random bytes,
 * 0444, atomically), the derived `<role>DatabaseUrl` is re-rendered from the
 * file, and the admin URL goes to `postgresAdminUrl` for the secret-writer
 * and verifier. An existing role keeps its password: a rotation in progress
 * owns it. The password goes to the server as a SCRAM verifier, never as
 * cleartext in a statement.
 */
export async function bootstrapPostgresRoles(adminUrl: string, secretsDir: string, options: PostgresRolesOptions): Promise<PostgresRolesResult> {
  await ensureSecretsDir(secretsDir);
  await replaceSecret(secretsDir, options.adminUrlFile ?? 'postgresAdminUrl', adminUrl);
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  const created: string[] = [];
  await client.connect();
  try {
    for (const role of options.roles) {
      const roleName = options.roleTemplate.replaceAll('{role}', role);
      const { value: password } = await ensureSecret(secretsDir, `${role}DbPassword`, newPassword);
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [roleName]);
      if (exists.rowCount === 0) {
        try {
          await client.query(`CREATE ROLE ${client.escapeIdentifier(roleName)} LOGIN PASSWORD ${client.escapeLiteral(scramPasswordLiteral(password))}`);
          created.push(roleName);
        } catch (err) {
          // The statement holds the password; the message of a failed one may too.
          const code = (err as { code?: unknown }).code;
          if (code !== '42710') throw new Error(`CREATE ROLE ${roleName} failed (${typeof code === 'string' ? code : 'no code'})`);
          // 42710 duplicate_object: created concurrently; keep it.
        }
      }
      await replaceSecret(secretsDir, `${role}DatabaseUrl`, renderUrlTemplate(options.databaseUrlTemplate, roleName, password));
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  return { created };
}

export interface RedisAclUserOptions {
  /** The ACL user whose password rotates (holders file `redis_acl.user`). */
  user: string;
  /** Derived `redisUrl`; `{user}` and `{password}` are replaced (holders file `redis_acl.url_template`). */
  urlTemplate: string;
  /** File the admin URL is written to (holders file `redis_acl.admin_url_file`). */
  adminUrlFile?: string;
}

/**
 * Creates the Redis ACL user the redis-acl writer rotates, when missing, with
 * the password of `redisPassword` (created when missing), full command and key
 * access, and writes the derived `redisUrl` and `redisAdminUrl`. An existing
 * user is left alone. Returns whether the user was created.
 */
export async function bootstrapRedisAclUser(adminUrl: string, secretsDir: string, options: RedisAclUserOptions): Promise<{ created: boolean }> {
  refuseDefaultUser(options.user);
  await ensureSecretsDir(secretsDir);
  await replaceSecret(secretsDir, options.adminUrlFile ?? 'redisAdminUrl', adminUrl);
  const { value: password } = await ensureSecret(secretsDir, 'redisPassword', newPassword);
  const created = await withRedis(adminUrl, async (redis) => {
    if ((await redis.call('ACL', 'GETUSER', options.user)) !== null) return false;
    try {
      await redis.call('ACL', 'SETUSER', options.user, 'on', `>${password}`, '~*', '&*', '+@all');
    } catch (err) {
      // Redis echoes a rejected modifier, which here is the password.
      throw new Error(`ACL SETUSER ${options.user} failed (${redisErrorCode(err)})`);
    }
    return true;
  });
  await replaceSecret(secretsDir, 'redisUrl', renderUrlTemplate(options.urlTemplate, options.user, password));
  return { created };
}

/** Deletes an ACL user (test clean-up); a missing user is fine. The default user is never touched. */
export async function dropRedisAclUser(adminUrl: string, user: string): Promise<void> {
  refuseDefaultUser(user);
  await withRedis(adminUrl, (redis) => redis.call('ACL', 'DELUSER', user));
}

function refuseDefaultUser(user: string): void {
  if (user === 'default') throw new Error('the Redis default user is not managed by the sandbox');
}

async function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

function redisErrorCode(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  return /^[A-Z]+\b/.exec(message)?.[0] ?? 'error';
}
