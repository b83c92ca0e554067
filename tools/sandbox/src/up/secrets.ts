import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * The secrets directory in Caracal's layout (packages/engine/src/secrets.ts
 * bootstrapSecrets): 0700, one 0444 file per secret holding lowercase hex of
 * fresh random bytes, an existing file never overwritten, and the derived URL
 * files re-rendered from the primaries on every start (here for 127.0.0.1 and
 * the sandbox's private ports instead of the compose hosts `postgres:5432`
 * and `redis:6379`).
 *
 * Two files Caracal's bootstrap does not make: `stsAdminToken` (compose leaves
 * STS_ADMIN_TOKEN unset; the sandbox gives the STS one through
 * STS_ADMIN_TOKEN_FILE, as Helm does) and `secretStoreKekPrevious` (the file
 * an operator's compose override wires as SECRET_STORE_KEK_PREVIOUS_FILE for
 * api and sts; equal to the current KEK when no rotation is under way).
 */

const FILE_MODE = 0o444;
const REWRITE_MODE = 0o600;

/** SECRET_FILES of packages/engine/src/secrets.ts, in its order. */
export const CARACAL_SECRET_FILES: readonly { envKey: string; fileName: string; bytes: number }[] = [
  { envKey: 'POSTGRES_PASSWORD', fileName: 'postgresPassword', bytes: 24 },
  { envKey: 'REDIS_PASSWORD', fileName: 'redisPassword', bytes: 24 },
  { envKey: 'CARACAL_ADMIN_TOKEN', fileName: 'caracalAdminToken', bytes: 32 },
  { envKey: 'CARACAL_COORDINATOR_TOKEN', fileName: 'caracalCoordinatorToken', bytes: 32 },
  { envKey: 'CARACAL_AUTH_SECRET', fileName: 'caracalAuthSecret', bytes: 32 },
  { envKey: 'METRICS_BEARER', fileName: 'metricsBearer', bytes: 32 },
  { envKey: 'SECRET_STORE_KEK', fileName: 'secretStoreKek', bytes: 32 },
  { envKey: 'AUDIT_HMAC_KEY', fileName: 'auditHmacKey', bytes: 32 },
  { envKey: 'STREAMS_HMAC_KEY', fileName: 'streamsHmacKey', bytes: 32 },
  { envKey: 'IDEMPOTENCY_HMAC_KEY', fileName: 'idempotencyHmacKey', bytes: 32 },
  { envKey: 'GATEWAY_STS_HMAC_KEY', fileName: 'gatewayStsHmacKey', bytes: 32 },
  { envKey: 'CARACAL_API_DB_PASSWORD', fileName: 'apiDbPassword', bytes: 24 },
  { envKey: 'CARACAL_STS_DB_PASSWORD', fileName: 'stsDbPassword', bytes: 24 },
  { envKey: 'CARACAL_GATEWAY_DB_PASSWORD', fileName: 'gatewayDbPassword', bytes: 24 },
  { envKey: 'CARACAL_AUDIT_DB_PASSWORD', fileName: 'auditDbPassword', bytes: 24 },
  { envKey: 'CARACAL_COORDINATOR_DB_PASSWORD', fileName: 'coordinatorDbPassword', bytes: 24 },
  { envKey: 'CARACAL_AUTH_DB_PASSWORD', fileName: 'authDbPassword', bytes: 24 },
];

/** The sandbox's two additions (see above). */
export const STS_ADMIN_TOKEN_FILE = 'stsAdminToken';
export const KEK_PREVIOUS_FILE = 'secretStoreKekPrevious';

/** Caracal's per-service database roles: `<svc>DbPassword` → role `caracal<svc>`. */
export const DB_ROLES = ['api', 'sts', 'gateway', 'audit', 'coordinator', 'auth'] as const;

export interface Endpoints {
  pgPort: number;
  redisPort: number;
}

/** DERIVED_SECRETS, rendered for the sandbox's private servers. */
function derivedSecrets(v: Record<string, string>, at: Endpoints): [string, string][] {
  const pg = `127.0.0.1:${at.pgPort}`;
  return [
    ['databaseUrl', `postgres://caracal:${v.POSTGRES_PASSWORD}@${pg}/caracal`],
    ['apiDatabaseUrl', `postgres://caracalapi:${v.CARACAL_API_DB_PASSWORD}@${pg}/caracal`],
    ['stsDatabaseUrl', `postgres://caracalsts:${v.CARACAL_STS_DB_PASSWORD}@${pg}/caracal`],
    ['gatewayDatabaseUrl', `postgres://caracalgateway:${v.CARACAL_GATEWAY_DB_PASSWORD}@${pg}/caracal`],
    ['auditDatabaseUrl', `postgres://caracalaudit:${v.CARACAL_AUDIT_DB_PASSWORD}@${pg}/caracal`],
    ['coordinatorDatabaseUrl', `postgres://caracalcoordinator:${v.CARACAL_COORDINATOR_DB_PASSWORD}@${pg}/caracal`],
    ['authDatabaseUrl', `postgres://caracalauth:${v.CARACAL_AUTH_DB_PASSWORD}@${pg}/caracal_auth`],
    ['redisUrl', `redis://:${v.REDIS_PASSWORD}@127.0.0.1:${at.redisPort}`],
  ];
}

/** readOrCreateSecretFile: an exclusive create, else the existing (trimmed) value; an empty file is refilled. */
async function readOrCreate(file: string, fresh: () => string): Promise<{ value: string; created: boolean }> {
  const value = fresh();
  try {
    await fs.writeFile(file, value, { mode: FILE_MODE, flag: 'wx' });
    await fs.chmod(file, FILE_MODE);
    return { value, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const existing = (await fs.readFile(file, 'utf8')).trim();
  if (existing.length > 0) return { value: existing, created: false };
  await fs.chmod(file, REWRITE_MODE);
  await fs.writeFile(file, value, { mode: FILE_MODE });
  await fs.chmod(file, FILE_MODE);
  return { value, created: true };
}

export interface SecretsReport {
  /** File names created now (values never leave this module but through the files). */
  created: string[];
}

export async function bootstrapSecrets(secretsDir: string, at: Endpoints): Promise<SecretsReport> {
  await fs.mkdir(secretsDir, { recursive: true });
  await fs.chmod(secretsDir, 0o700);
  for (const sub of ['allowlist', 'console']) {
    await fs.mkdir(path.join(secretsDir, sub), { recursive: true, mode: 0o755 });
    await fs.chmod(path.join(secretsDir, sub), 0o755);
  }
  const created: string[] = [];
  const values: Record<string, string> = {};
  for (const spec of CARACAL_SECRET_FILES) {
    const r = await readOrCreate(path.join(secretsDir, spec.fileName), () => randomBytes(spec.bytes).toString('hex'));
    values[spec.envKey] = r.value;
    if (r.created) created.push(spec.fileName);
  }
  if ((await readOrCreate(path.join(secretsDir, STS_ADMIN_TOKEN_FILE), () => randomBytes(32).toString('hex'))).created) created.push(STS_ADMIN_TOKEN_FILE);
  if ((await readOrCreate(path.join(secretsDir, KEK_PREVIOUS_FILE), () => values.SECRET_STORE_KEK!)).created) created.push(KEK_PREVIOUS_FILE);
  for (const [fileName, rendered] of derivedSecrets(values, at)) {
    const file = path.join(secretsDir, fileName);
    let existing = '';
    try {
      existing = (await fs.readFile(file, 'utf8')).trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (existing !== rendered) {
      if (existing) await fs.chmod(file, REWRITE_MODE);
      await fs.writeFile(file, rendered, { mode: FILE_MODE });
      if (!existing) created.push(fileName);
    }
    await fs.chmod(file, FILE_MODE);
  }
  return { created };
}

/** A secret file's value, trailing whitespace trimmed. */
export async function readSecretFile(secretsDir: string, name: string): Promise<string> {
  return (await fs.readFile(path.join(secretsDir, name), 'utf8')).replace(/\s+$/, '');
}
