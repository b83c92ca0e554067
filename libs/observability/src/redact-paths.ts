/**
 * What the logger redacts. pino's redaction works on paths, and every wildcard
 * path costs time on every log line, so the list is in two tiers:
 * generic secret-bearing keys are redacted at the top level and one and two
 * levels deep; Caracal's own secret names (env variables and secret-store file
 * names, each with its `_PREVIOUS`/`Previous` twin) at the top level and inside
 * the objects a service would log them in (`config`, `env`, `secrets`), by exact
 * path, which costs next to nothing (a wildcard for these doubled the cost of a line).
 *
 * Deliberately NOT redacted: `kid`, `fingerprint`, `location`, `material`,
 * `values` (dead-letter copies of signed events, which never carry secrets).
 * Log Redis key names as `redis_key`, not `key`, and URLs through
 * `maskUrlCredentials` under a key other than the ones below.
 */
export const REDACT_CENSOR = '[redacted]';

export const GENERIC_SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'value',
  'key',
  'authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'apiKey',
  'api_key',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'privateKey',
  'private_key',
  'clientSecret',
  'client_secret',
  'credentials',
  'connectionString',
] as const;

const CARACAL_ENV_SECRETS = [
  'CARACAL_ADMIN_TOKEN',
  'CARACAL_COORDINATOR_TOKEN',
  'STS_ADMIN_TOKEN',
  'SECRET_STORE_KEK',
  'ZONE_KEK',
  'AUDIT_HMAC_KEY',
  'STREAMS_HMAC_KEY',
  'IDEMPOTENCY_HMAC_KEY',
  'GATEWAY_STS_HMAC_KEY',
  'POSTGRES_PASSWORD',
  'REDIS_PASSWORD',
];

const CARACAL_FILE_SECRETS = [
  'caracalAdminToken',
  'caracalCoordinatorToken',
  'secretStoreKek',
  'auditHmacKey',
  'streamsHmacKey',
  'idempotencyHmacKey',
  'gatewayStsHmacKey',
  'metricsBearer',
  'caracalAuthSecret',
  'postgresPassword',
  'redisPassword',
];

/** Values that embed a password (Caracal renders these files with one inside). */
const URLS_WITH_PASSWORDS = ['REDIS_URL', 'DATABASE_URL', 'redisUrl', 'databaseUrl'];

export const CARACAL_SECRET_KEYS: readonly string[] = [
  ...CARACAL_ENV_SECRETS.flatMap((name) => [name, `${name}_PREVIOUS`]),
  ...CARACAL_FILE_SECRETS.flatMap((name) => [name, `${name}Previous`]),
  ...URLS_WITH_PASSWORDS,
];

function segment(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function at(prefix: string, key: string): string {
  const seg = segment(key);
  if (prefix === '') return seg.startsWith('.') ? seg.slice(1) : seg;
  return `${prefix}${seg}`;
}

/** Objects that hold Caracal's secrets by name when a service logs them whole. */
export const SECRET_CONTAINERS = ['config', 'env', 'secrets'] as const;

/** The pino `redact.paths` for the keys above. */
export function redactPaths(): string[] {
  return [
    ...GENERIC_SECRET_KEYS.flatMap((k) => [at('', k), at('*', k), at('*.*', k)]),
    ...CARACAL_SECRET_KEYS.flatMap((k) => [at('', k), ...SECRET_CONTAINERS.map((c) => at(c, k))]),
  ];
}
