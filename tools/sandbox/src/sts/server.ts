import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Keyring } from '../shared/css1.js';
import { AAD } from '../shared/css1.js';
import { GATEWAY_REQUEST_HEADER, GATEWAY_SIGNATURE_HEADER, GATEWAY_TIMESTAMP_HEADER, verifyGatewayExchange } from '../shared/gateway-auth.js';
import { caracalError, goEncode, goError, goJson, goMap, goNotFound, GoMux, headerEquals, storesUnreachable, writeReadyFailure } from '../shared/go-http.js';
import { counter, gauge, METRICS_CONTENT_TYPE, renderMetrics } from '../shared/go-metrics.js';
import { errorMessage, type Log } from '../shared/runtime.js';
import type { StsConfig } from './config.js';
import type { PolicyEngine } from './policy-engine.js';
import { getZoneSigningKeySecrets, publicJwk, rotateZoneSigningKey, type Jwk } from './signing-keys.js';

/** exchange.go gatewayExchangeSkew; gateway_nonce.go keeps a nonce for twice that. */
const GATEWAY_SKEW_S = 60;
const NONCE_PREFIX = 'caracal:sts:gw-nonce:';
const JWKS_MAX_AGE_S = 300;

export interface StsDeps {
  cfg: StsConfig;
  db: pg.Pool;
  redis: Redis;
  keyring: Keyring;
  policy: PolicyEngine;
  consumersReady: () => boolean;
  log: Log;
}

const header = (req: IncomingMessage, name: string): string => {
  const v = req.headers[name];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
};

/** The routes of services/sts/internal/server.go the replica serves; the others (token exchange, approvals, run credentials) answer 404. */
export function stsMux(deps: StsDeps): GoMux {
  const { cfg, db, redis, keyring, log } = deps;
  let jwksInvalidKeys = 0;

  // server.go handleJWKS: zone_id is mandatory; keys no KEK opens are skipped and counted.
  const jwks = async (req: IncomingMessage, res: ServerResponse) => {
    const zoneId = new URL(req.url ?? '/', 'http://sts').searchParams.get('zone_id') ?? '';
    if (zoneId === '') return caracalError(res, 400, 'invalid_token', 'zone_id required');
    let secrets: Awaited<ReturnType<typeof getZoneSigningKeySecrets>>;
    try {
      secrets = await getZoneSigningKeySecrets(db, zoneId);
    } catch {
      secrets = [];
    }
    if (secrets.length === 0) return caracalError(res, 404, 'resource_not_found', 'zone signing key not found');
    const keys: Jwk[] = [];
    for (const secret of secrets) {
      let pem: Buffer;
      try {
        pem = keyring.open(secret.envelope, AAD.zoneSigningKey);
      } catch (err) {
        jwksInvalidKeys++;
        log('warn', 'jwks: skipped invalid signing key', { zone: zoneId, kid: secret.id, reason: 'decrypt', error: errorMessage(err) });
        continue;
      }
      try {
        keys.push(publicJwk(pem, secret.id));
      } catch (err) {
        jwksInvalidKeys++;
        log('warn', 'jwks: skipped invalid signing key', { zone: zoneId, kid: secret.id, reason: 'parse', error: errorMessage(err) });
      }
    }
    if (keys.length === 0) return caracalError(res, 500, 'internal_error', 'signing key decryption failed');
    res.writeHead(200, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': `public, max-age=${JWKS_MAX_AGE_S}, must-revalidate` });
    // json.Marshal, not an Encoder: no trailing newline.
    res.end(goEncode({ keys }).trimEnd());
  };

  // server.go handleRotateZoneSigningKey + adminAuthorized: 404 while STS_ADMIN_TOKEN is unset.
  const rotate = async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => {
    if (cfg.adminToken === '') return goNotFound(res);
    if (!headerEquals(req.headers.authorization, `Bearer ${cfg.adminToken}`)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="caracal-sts"');
      return goError(res, 401, 'unauthorized');
    }
    const zoneId = params.zoneID ?? '';
    try {
      const row = await rotateZoneSigningKey(db, keyring, zoneId);
      goJson(res, 200, goMap({ rotated: true, zone_id: zoneId, kid: row.id }));
    } catch (err) {
      log('error', 'signing key rotation failed', { zone: zoneId, error: errorMessage(err) });
      caracalError(res, 500, 'internal_error', 'signing key rotation failed');
    }
  };

  // simulation.go handlePolicyStatus: a gateway-signed GET; the nonce is burned only after the signature holds.
  const policyStatus = async (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => {
    const requestId = header(req, GATEWAY_REQUEST_HEADER);
    const path = (req.url ?? '/').split('?')[0]!;
    const failure = verifyGatewayExchange(
      cfg.gatewayKey,
      Date.now(),
      GATEWAY_SKEW_S,
      header(req, GATEWAY_TIMESTAMP_HEADER),
      requestId,
      header(req, GATEWAY_SIGNATURE_HEADER),
      req.method ?? 'GET',
      path,
      Buffer.alloc(0),
    );
    let accepted = failure === undefined;
    if (accepted) {
      try {
        accepted = (await redis.set(`${NONCE_PREFIX}${requestId}`, '1', 'EX', 2 * GATEWAY_SKEW_S, 'NX')) === 'OK';
      } catch {
        accepted = false;
      }
    }
    if (!accepted) return caracalError(res, 401, 'access_denied', 'invalid policy status request signature');
    const zoneId = params.zoneID ?? '';
    const info = deps.policy.bundleInfo(zoneId);
    const body: Record<string, unknown> = { zone_id: zoneId, loaded: false };
    if (info && (info.policySetVersionId !== '' || info.manifestSha !== '')) {
      body.loaded = true;
      if (info.policySetVersionId) body.policy_set_version_id = info.policySetVersionId;
      if (info.manifestSha) body.manifest_sha256 = info.manifestSha;
      body.loaded_at = new Date(Math.floor(info.loadedAt / 1000) * 1000).toISOString().replace('.000Z', 'Z');
      const age = Math.floor((Date.now() - info.loadedAt) / 1000);
      if (age !== 0) body.age_seconds = age;
    }
    goJson(res, 200, body);
  };

  const ready = async (_req: IncomingMessage, res: ServerResponse) => {
    const unreachable = await storesUnreachable(db, redis);
    if (unreachable) return writeReadyFailure(res, unreachable);
    if (!deps.consumersReady()) return writeReadyFailure(res, 'stream_consumers_not_ready');
    goJson(res, 200, goMap({ ok: true, ready: true }));
  };

  const metricsAuthorized = (req: IncomingMessage) => (cfg.metricsBearer === '' ? !cfg.published : headerEquals(req.headers.authorization, `Bearer ${cfg.metricsBearer}`));

  // server.go handleMetrics: the replica performs none of the counted work but JWKS reads.
  const metrics = (req: IncomingMessage, res: ServerResponse) => {
    if (!metricsAuthorized(req)) return goError(res, 401, 'unauthorized');
    res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE });
    res.end(
      renderMetrics([
        counter('caracal_sts_graph_traversals_total', 'STS delegation graph traversals performed', 0),
        counter('caracal_sts_graph_traversal_errors_total', 'STS delegation graph traversal failures', 0),
        counter('caracal_sts_audit_dropped_total', 'STS audit events irrecoverably lost', 0),
        gauge('caracal_sts_audit_replay_pending', 'STS audit events pending replay', 0),
        gauge('caracal_sts_audit_replay_files', 'STS audit replay files waiting on disk', 0),
        gauge('caracal_sts_audit_replay_bytes', 'STS audit replay bytes waiting on disk', 0),
        gauge('caracal_sts_audit_replay_oldest_age_seconds', 'Age of the oldest STS audit replay file on disk', 0),
        counter('caracal_sts_audit_replay_replayed_total', 'STS audit events replayed after sink recovery', 0),
        counter('caracal_sts_audit_sink_errors_total', 'STS audit sink publish errors', 0),
        counter('caracal_sts_jwks_invalid_keys_total', 'STS signing keys skipped because JWKS validation failed', jwksInvalidKeys),
        counter('caracal_sts_secret_backend_reads_total', 'Secret backend reads attempted by the data plane', 0),
        counter('caracal_sts_secret_backend_errors_total', 'Secret backend reads that failed', 0),
        counter('caracal_sts_provider_refresh_shared_total', 'STS provider credential refresh calls served by a shared in-process result', 0),
        counter('caracal_sts_provider_refresh_leased_total', 'STS provider credential refresh calls that acquired the distributed refresh lease', 0),
        counter('caracal_sts_provider_refresh_waited_total', 'STS provider credential refresh calls that waited for a distributed peer result', 0),
        counter('caracal_sts_provider_refresh_errors_total', 'STS provider credential refresh distributed coordination errors', 0),
        counter('caracal_sts_provider_circuit_open_total', 'STS provider refresh attempts rejected because the provider circuit was open', 0),
        counter('caracal_sts_opa_eval_total', 'STS OPA policy evaluations', 0),
        counter('caracal_sts_opa_eval_errors_total', 'STS OPA policy evaluation errors', 0),
        counter('caracal_sts_opa_eval_duration_seconds_total', 'STS cumulative OPA policy evaluation duration', 0),
        counter('caracal_sts_opa_compile_total', 'STS OPA policy compilations', 0),
        counter('caracal_sts_opa_compile_errors_total', 'STS OPA policy compilation errors', 0),
        counter('caracal_sts_opa_compile_duration_seconds_total', 'STS cumulative OPA policy compilation duration', 0),
        gauge('caracal_sts_opa_max_policy_age_seconds', 'STS maximum age of a loaded OPA policy bundle', deps.policy.maxPolicyAgeSeconds()),
        gauge('caracal_sts_opa_poll_interval_seconds', 'STS OPA PostgreSQL safety poll interval', 60),
      ]),
    );
  };

  return new GoMux()
    .handle('GET /.well-known/jwks.json', jwks)
    .handle('GET /health', (_req, res) => {
      res.writeHead(200);
      res.end();
    })
    .handle('GET /ready', ready)
    .handle('GET /metrics', metrics)
    .handle('GET /internal/policy/status/{zoneID}', policyStatus)
    .handle('POST /internal/zones/{zoneID}/signing-key/rotate', rotate);
}
