import { goHexDecode } from '../shared/css1.js';
import { resolveGoFileSecrets } from '../shared/file-secrets.js';

/** services/sts/internal/config.go loadConfig, for what the replica serves. */
export interface StsConfig {
  port: number;
  databaseUrl: string;
  redisUrl: string;
  issuerUrl: string;
  published: boolean;
  streamsKey: Buffer;
  gatewayKey: Buffer;
  metricsBearer: string;
  adminToken: string;
}

/** The Go services' CARACAL_MODE (packages/core/go/config Mode): stable unless told otherwise. */
export function goMode(env: NodeJS.ProcessEnv = process.env): 'dev' | 'rc' | 'stable' {
  const m = (env.CARACAL_MODE ?? '').trim().toLowerCase();
  if (m === 'dev' || m === 'rc' || m === 'stable') return m;
  if (m === '') return 'stable';
  throw new Error(`CARACAL_MODE must be 'dev', 'rc', or 'stable' (got '${m}')`);
}

/** crypto.DecodeStreamKey. */
export function decodeStreamKey(hex: string): Buffer {
  if (hex === '') return Buffer.alloc(0);
  let key: Buffer;
  try {
    key = goHexDecode(hex);
  } catch (err) {
    throw new Error(`hex decode: ${(err as Error).message}`);
  }
  if (key.length < 32) throw new Error('stream hmac key must be at least 32 bytes');
  return key;
}

export function loadStsConfig(env: NodeJS.ProcessEnv = process.env): StsConfig {
  // Secrets are read once, here, at process start (a missing or empty *_FILE panics).
  resolveGoFileSecrets(
    ['DATABASE_URL', 'REDIS_URL', 'SECRET_STORE_KEK', 'SECRET_STORE_KEK_PREVIOUS', 'AUDIT_HMAC_KEY', 'STREAMS_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'STS_ADMIN_TOKEN', 'METRICS_BEARER'],
    env,
  );
  const missing = ['PORT', 'DATABASE_URL', 'REDIS_URL', 'ISSUER_URL'].filter((k) => !env[k]);
  if (missing.length > 0) throw new Error(`config: required env vars missing: ${missing.join(', ')}`);
  // Caracal also insists on PORT 8080 (each container has its own network namespace); the
  // sandbox runs every service on one host, so it takes the port it is given.
  const published = goMode(env) !== 'dev';
  let gatewayKey: Buffer = Buffer.alloc(0);
  const rawGateway = env.GATEWAY_STS_HMAC_KEY ?? '';
  if (rawGateway !== '') {
    let key: Buffer | undefined;
    try {
      key = goHexDecode(rawGateway);
    } catch {
      key = undefined;
    }
    if (!key || key.length < 32) throw new Error('config: GATEWAY_STS_HMAC_KEY must be hex-encoded with at least 32 bytes');
    gatewayKey = key;
  }
  if (published && gatewayKey.length === 0) throw new Error('config: GATEWAY_STS_HMAC_KEY is required when CARACAL_MODE=rc or CARACAL_MODE=stable');
  let streamsKey: Buffer;
  try {
    streamsKey = decodeStreamKey(env.STREAMS_HMAC_KEY ?? '');
  } catch (err) {
    throw new Error(`streams hmac key: ${(err as Error).message}`);
  }
  if (published && streamsKey.length === 0) throw new Error('STREAMS_HMAC_KEY is required when CARACAL_MODE=rc or CARACAL_MODE=stable');
  return {
    port: Number(env.PORT),
    databaseUrl: env.DATABASE_URL!,
    redisUrl: env.REDIS_URL!,
    issuerUrl: env.ISSUER_URL!.trim(),
    published,
    streamsKey,
    gatewayKey,
    metricsBearer: env.METRICS_BEARER ?? '',
    adminToken: env.STS_ADMIN_TOKEN ?? '',
  };
}
