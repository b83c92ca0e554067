import path from 'node:path';
import { KEK_PREVIOUS_FILE, STS_ADMIN_TOKEN_FILE } from './secrets.js';

/**
 * The environment infra/docker/runtime-compose.yml gives each service, with
 * Caracal's variable names. A compose secret `source → /run/secrets/target`
 * becomes the source file in the secrets directory; service hosts become
 * 127.0.0.1 and the sandbox's ports. Two additions, both documented in
 * docs/sandbox.md: SECRET_STORE_KEK_PREVIOUS_FILE for api and sts (the
 * operator's compose override for KEK rotation) and STS_ADMIN_TOKEN_FILE for
 * the STS (as Helm sets it; compose leaves STS_ADMIN_TOKEN empty).
 */
export const SERVICES = ['sts', 'api', 'gateway', 'audit', 'coordinator'] as const;
export type ServiceName = (typeof SERVICES)[number];

export type Ports = Record<ServiceName, number>;

export const url = (port: number) => `http://127.0.0.1:${port}`;

/** x-secretBackendEnv: builtin, every external backend variable empty. */
const SECRET_BACKEND_ENV: Record<string, string> = {
  CARACAL_SECRET_BACKEND: 'builtin',
  ...Object.fromEntries(
    [
      'CARACAL_VAULT_ADDR',
      'CARACAL_VAULT_TOKEN',
      'CARACAL_VAULT_MOUNT',
      'CARACAL_VAULT_NAMESPACE',
      'CARACAL_INFISICAL_URL',
      'CARACAL_INFISICAL_TOKEN',
      'CARACAL_INFISICAL_PROJECT_ID',
      'CARACAL_INFISICAL_ENV',
      'CARACAL_INFISICAL_PATH',
      'CARACAL_AZURE_VAULT_URL',
      'CARACAL_AZURE_TENANT_ID',
      'CARACAL_AZURE_CLIENT_ID',
      'CARACAL_AZURE_CLIENT_SECRET',
      'CARACAL_AWS_REGION',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'CARACAL_GCP_PROJECT',
      'CARACAL_GCP_CREDENTIALS_FILE',
      'GOOGLE_APPLICATION_CREDENTIALS',
      'CARACAL_CUSTOM_SECRETS_URL',
      'CARACAL_CUSTOM_SECRETS_TOKEN',
      'CARACAL_PRIVATE_EGRESS_HOSTS',
    ].map((k) => [k, '']),
  ),
};

/** compose's ISSUER_URL / STS_ISSUER_URL default (${CARACAL_STS_ISSUER_URL:-http://localhost:8080}). */
const ISSUER_URL = 'http://localhost:8080';

export function composeEnv(service: ServiceName, secretsDir: string, home: string, ports: Ports): Record<string, string> {
  const s = (file: string) => path.join(secretsDir, file);
  switch (service) {
    case 'sts':
      return {
        ...SECRET_BACKEND_ENV,
        CARACAL_MODE: 'stable',
        DATABASE_URL_FILE: s('stsDatabaseUrl'),
        REDIS_URL_FILE: s('redisUrl'),
        SECRET_STORE_KEK_FILE: s('secretStoreKek'),
        SECRET_STORE_KEK_PREVIOUS_FILE: s(KEK_PREVIOUS_FILE),
        AUDIT_HMAC_KEY_FILE: s('auditHmacKey'),
        STREAMS_HMAC_KEY_FILE: s('streamsHmacKey'),
        GATEWAY_STS_HMAC_KEY_FILE: s('gatewayStsHmacKey'),
        ISSUER_URL,
        STS_ADMIN_TOKEN: '',
        STS_ADMIN_TOKEN_FILE: s(STS_ADMIN_TOKEN_FILE),
        STS_MINT_RATE_LIMIT_PER_MIN: '',
        STS_SECRET_VERIFY_CONCURRENCY: '',
        METRICS_BEARER_FILE: s('metricsBearer'),
        CARACAL_TLS_EXTRA_CA_FILE: path.join(home, 'ca', 'extra-ca.pem'),
        PORT: String(ports.sts),
      };
    case 'api':
      return {
        ...SECRET_BACKEND_ENV,
        CARACAL_MODE: 'stable',
        DATABASE_URL_FILE: s('apiDatabaseUrl'),
        REDIS_URL_FILE: s('redisUrl'),
        STS_URL: url(ports.sts),
        CARACAL_GATEWAY_URL: url(ports.gateway),
        CARACAL_COORDINATOR_URL: url(ports.coordinator),
        CARACAL_ALLOW_INSECURE_CONFIG_URLS: 'true',
        SECRET_STORE_KEK_FILE: s('secretStoreKek'),
        SECRET_STORE_KEK_PREVIOUS_FILE: s(KEK_PREVIOUS_FILE),
        STREAMS_HMAC_KEY_FILE: s('streamsHmacKey'),
        GATEWAY_STS_HMAC_KEY_FILE: s('gatewayStsHmacKey'),
        CARACAL_ADMIN_TOKEN_FILE: s('caracalAdminToken'),
        METRICS_BEARER_FILE: s('metricsBearer'),
        AUDIT_HMAC_KEY_FILE: s('auditHmacKey'),
        CARACAL_CONTROL_ENABLED: 'true',
        CONTROL_GATE_FILE: path.join(home, 'control', 'enabled'),
        STS_JWKS_URL: `${url(ports.sts)}/.well-known/jwks.json`,
        STS_ISSUER_URL: ISSUER_URL,
        CONTROL_AUDIENCE: 'caracal-control',
        CONTROL_API_TOKEN_FILE: s('caracalAdminToken'),
        API_OPERATOR_ENABLED: 'true',
        API_OPERATOR_MAX_CONCURRENT_RUNS_PER_USER: '2',
        STS_MINT_RATE_LIMIT_PER_MIN: '',
        // What an operator's compose override may set (apps/api/src/config.ts, 600 by
        // default): taken from the sandbox's own environment, so a benchmark can seed
        // thousands of zones without waiting out the per-minute budget.
        ...(process.env.API_V1_RATE_LIMIT_PER_MIN ? { API_V1_RATE_LIMIT_PER_MIN: process.env.API_V1_RATE_LIMIT_PER_MIN } : {}),
        PORT: String(ports.api),
        HOST: '127.0.0.1',
      };
    case 'gateway':
      return {
        CARACAL_MODE: 'stable',
        DATABASE_URL_FILE: s('gatewayDatabaseUrl'),
        REDIS_URL_FILE: s('redisUrl'),
        STS_URL: url(ports.sts),
        STREAMS_HMAC_KEY_FILE: s('streamsHmacKey'),
        AUDIT_HMAC_KEY_FILE: s('auditHmacKey'),
        GATEWAY_STS_HMAC_KEY_FILE: s('gatewayStsHmacKey'),
        CARACAL_ADMIN_TOKEN_FILE: s('caracalAdminToken'),
        METRICS_BEARER_FILE: s('metricsBearer'),
        UPSTREAM_HOST_ALLOWLIST: '',
        TRUST_PROXY: 'false',
        STREAM_IDLE_TIMEOUT: '60s',
        PORT: String(ports.gateway),
      };
    case 'audit':
      return {
        CARACAL_MODE: 'stable',
        DATABASE_URL_FILE: s('auditDatabaseUrl'),
        REDIS_URL_FILE: s('redisUrl'),
        AUDIT_HMAC_KEY_FILE: s('auditHmacKey'),
        AUDIT_ADMIN_TOKEN: '',
        METRICS_BEARER_FILE: s('metricsBearer'),
        AUDIT_EXPORT_S3_ENDPOINT: '',
        AUDIT_EXPORT_S3_BUCKET: '',
        AUDIT_EXPORT_S3_REGION: 'us-east-1',
        AUDIT_EXPORT_TMP_DIR: '/tmp',
        PORT: String(ports.audit),
      };
    case 'coordinator':
      return {
        CARACAL_MODE: 'stable',
        DATABASE_URL_FILE: s('coordinatorDatabaseUrl'),
        REDIS_URL_FILE: s('redisUrl'),
        STS_URL: url(ports.sts),
        ISSUER_URL,
        CARACAL_ALLOW_INSECURE_CONFIG_URLS: 'true',
        STREAMS_HMAC_KEY_FILE: s('streamsHmacKey'),
        IDEMPOTENCY_HMAC_KEY_FILE: s('idempotencyHmacKey'),
        CARACAL_COORDINATOR_TOKEN_FILE: s('caracalCoordinatorToken'),
        IDEMPOTENCY_RETENTION_SECONDS: '604800',
        GENERATED_IDEMPOTENCY_RETENTION_SECONDS: '86400',
        SESSION_RETENTION_DAYS: '90',
        IDEMPOTENCY_MAX_RECEIPTS_PER_SCOPE: '10000',
        COORDINATOR_BODY_LIMIT_BYTES: '262144',
        AGENT_COORDINATOR_SCOPE: 'agent:lifecycle',
        METRICS_BEARER_FILE: s('metricsBearer'),
        PORT: String(ports.coordinator),
        HOST: '127.0.0.1',
      };
  }
}

/** compose's `image:` per service (the tag is the sandbox's, not a Caracal release). */
export function composeImage(service: ServiceName): string {
  const kind = service === 'api' || service === 'coordinator' ? 'caracal-node' : 'caracal-go';
  return `ghcr.io/garudex-labs/${kind}:sandbox`;
}
