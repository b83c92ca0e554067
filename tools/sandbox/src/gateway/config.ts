import { goHexDecode } from '../shared/css1.js';
import { resolveGoFileSecrets } from '../shared/file-secrets.js';
import { decodeStreamKey, goMode } from '../sts/config.js';

/** services/gateway/internal/config.go loadConfig + validate, for what the replica serves. */
export interface GatewayConfig {
  port: number;
  published: boolean;
  stsUrl: string;
  databaseUrl: string;
  redisUrl: string;
  streamsKey: Buffer;
  exchangeKey: Buffer;
  auditKey: Buffer;
  adminToken: string;
  metricsBearer: string;
}

function hexKey(name: string, raw: string): Buffer {
  if (raw === '') return Buffer.alloc(0);
  let key: Buffer | undefined;
  try {
    key = goHexDecode(raw);
  } catch {
    key = undefined;
  }
  if (!key || key.length < 32) throw new Error(`gateway config: ${name} must be hex-encoded with at least 32 bytes`);
  return key;
}

function isInternalHost(host: string): boolean {
  if (host === '') return false;
  if (host === 'localhost' || host === '127.0.0.1' || host === '::1' || host === '[::1]') return true;
  return !host.includes('.');
}

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  resolveGoFileSecrets(['DATABASE_URL', 'REDIS_URL', 'STREAMS_HMAC_KEY', 'AUDIT_HMAC_KEY', 'GATEWAY_STS_HMAC_KEY', 'CARACAL_ADMIN_TOKEN', 'METRICS_BEARER'], env);
  const missing = ['STS_URL', 'DATABASE_URL', 'REDIS_URL', 'STREAMS_HMAC_KEY'].filter((k) => !env[k]);
  if (missing.length > 0) throw new Error(`config: required env vars missing: ${missing.join(', ')}`);
  const published = goMode(env) !== 'dev';
  const exchangeKey = hexKey('GATEWAY_STS_HMAC_KEY', env.GATEWAY_STS_HMAC_KEY ?? '');
  const auditKey = hexKey('AUDIT_HMAC_KEY', env.AUDIT_HMAC_KEY ?? '');
  let sts: URL;
  try {
    sts = new URL(env.STS_URL!);
  } catch {
    throw new Error('config: gateway config: STS_URL must be an absolute URL');
  }
  if (sts.protocol === 'http:') {
    if (published && !isInternalHost(sts.hostname)) throw new Error('config: gateway config: STS_URL must use https when CARACAL_MODE=rc or CARACAL_MODE=stable and target is not an internal host');
  } else if (sts.protocol !== 'https:') {
    throw new Error('config: gateway config: STS_URL scheme must be http or https');
  }
  if (published && auditKey.length === 0) throw new Error('config: gateway config: AUDIT_HMAC_KEY is required when CARACAL_MODE=rc or CARACAL_MODE=stable');
  if (published && exchangeKey.length === 0) throw new Error('config: gateway config: GATEWAY_STS_HMAC_KEY is required when CARACAL_MODE=rc or CARACAL_MODE=stable');
  const port = Number(env.PORT ?? '8081');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('config: gateway config: PORT must be a valid TCP port (1-65535)');
  // Caracal also requires PORT 8081; the sandbox runs every service on one host and takes the port it is given.
  let streamsKey: Buffer;
  try {
    streamsKey = decodeStreamKey(env.STREAMS_HMAC_KEY!);
  } catch (err) {
    throw new Error(`streams hmac key: ${(err as Error).message}`);
  }
  return {
    port,
    published,
    stsUrl: env.STS_URL!.replace(/\/+$/, ''),
    databaseUrl: env.DATABASE_URL!,
    redisUrl: env.REDIS_URL!,
    streamsKey,
    exchangeKey,
    auditKey,
    adminToken: env.CARACAL_ADMIN_TOKEN ?? '',
    metricsBearer: env.METRICS_BEARER ?? '',
  };
}
