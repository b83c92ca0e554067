import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GATEWAY_REQUEST_HEADER, GATEWAY_SIGNATURE_HEADER, GATEWAY_TIMESTAMP_HEADER, newExchangeNonce, signGatewayExchange } from '../shared/gateway-auth.js';
import { caracalError } from '../shared/go-http.js';
import { JwksCache } from '../shared/jwks.js';
import type { Log } from '../shared/runtime.js';
import type { GatewayMetrics } from './metrics.js';
import type { RevocationStore } from './revocations.js';

/**
 * The gateway's proxy (services/gateway/internal/proxy.go ServeHTTP) up to
 * the STS token exchange: revocation freshness, the bearer pre-flight, the
 * routing headers, the mandate's JWKS signature (jwks.go), the revocation
 * anchors and the signed POST /oauth/2/token (sts.go Exchange). The sandbox
 * STS has no token exchange, so a request that gets that far is answered
 * with the exchange failure Caracal's gateway reports for the STS's answer.
 * Not replicated: the JTI replay tracker, the STS circuit breaker and the
 * upstream dispatch (a request never gets past the exchange here).
 */
const PREFLIGHT_WINDOW_S = 35;
const MAX_BEARER_BYTES = 4096;
const CLAIM_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ProxyDeps {
  stsUrl: string;
  exchangeKey: Buffer;
  store: RevocationStore;
  metrics: GatewayMetrics;
  log: Log;
}

function claims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const value = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const claimString = (c: Record<string, unknown> | undefined, name: string) => (typeof c?.[name] === 'string' ? (c[name] as string) : '');

/** safety.go pathContainsTraversal */
function pathContainsTraversal(path: string): boolean {
  let prev = '';
  let p = path;
  while (p !== prev) {
    prev = p;
    try {
      p = decodeURIComponent(p);
    } catch {
      return true;
    }
    if (p.includes('\\')) return true;
  }
  return p.split('/').some((seg) => seg === '..' || seg === '.');
}

export function createProxy(deps: ProxyDeps): (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void> {
  // jwks.go: keys kept 5 minutes; an unknown kid refetches at most every 30 s.
  const jwks = new JwksCache(deps.stsUrl, 5 * 60 * 1000, 30_000);
  const { metrics } = deps;
  const deny = (res: ServerResponse, requestId: string, status: number, code: string, desc: string, reason?: Parameters<GatewayMetrics['inc']>[0]) => {
    metrics.inc('requestsDenied');
    if (reason) metrics.inc(reason);
    res.setHeader('X-Request-Id', requestId);
    caracalError(res, status, code, desc, requestId);
  };
  return async (req, res, requestId) => {
    metrics.inc('requestsTotal');
    if (!deps.store.snapshotFresh()) return deny(res, requestId, 503, 'sts_unavailable', 'revocation state unavailable', 'denialsRevocationStale');
    const auth = req.headers.authorization ?? '';
    const bearer = auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ' ? auth.slice(7).trim() : '';
    if (bearer === '') return deny(res, requestId, 401, 'invalid_token', 'missing bearer token', 'denialsMissingAuth');
    if (bearer.length > MAX_BEARER_BYTES) return deny(res, requestId, 401, 'invalid_token', 'bearer token too large', 'denialsBadBearer');
    const c = claims(bearer);
    const exp = typeof c?.exp === 'number' ? Math.trunc(c.exp) : 0;
    if (!c || exp === 0) return deny(res, requestId, 401, 'invalid_token', 'malformed bearer token', 'denialsBadBearer');
    if (exp * 1000 - Date.now() < PREFLIGHT_WINDOW_S * 1000) {
      return deny(res, requestId, 401, 'credential_expired_not_renewable', 'credential expiring within pre-flight window', 'denialsExpiring');
    }
    if (req.headers['x-caracal-client-id']) return deny(res, requestId, 400, 'invalid_token', 'client identity derives from the bearer token', 'denialsBadRouting');
    const resource = String(req.headers['x-caracal-resource'] ?? '').trim();
    if (resource === '') return deny(res, requestId, 400, 'invalid_token', 'missing routing headers', 'denialsBadRouting');
    const zoneId = claimString(c, 'zone_id');
    if (!CLAIM_ID.test(zoneId)) return deny(res, requestId, 401, 'invalid_token', 'missing token zone', 'denialsBadRouting');
    const clientId = claimString(c, 'client_id');
    if (!CLAIM_ID.test(clientId)) return deny(res, requestId, 401, 'invalid_token', 'missing token client', 'denialsBadRouting');
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    if (pathContainsTraversal(path)) return deny(res, requestId, 400, 'invalid_token', 'path traversal not permitted', 'denialsPathTraversal');
    try {
      await jwks.verify(zoneId, bearer);
    } catch (err) {
      deps.log('info', 'denied: bearer signature', { request_id: requestId, error: (err as Error).message });
      return deny(res, requestId, 401, 'invalid_token', 'bearer signature invalid', 'denialsSignature');
    }
    const store = deps.store;
    if (
      store.isRevoked(claimString(c, 'sid')) ||
      store.isRevoked(claimString(c, 'root_sid')) ||
      store.isSessionRevoked(claimString(c, 'agent_session_id')) ||
      store.isDelegationRevoked(claimString(c, 'delegation_edge_id'))
    ) {
      return deny(res, requestId, 401, 'invalid_token', 'session revoked', 'denialsRevoked');
    }
    const outcome = await exchange(deps, { bearer, zoneId, clientId, resource, method: req.method ?? 'GET', path, requestId });
    metrics.set('stsExchangeLatencyMs', outcome.latencyMs);
    metrics.inc('stsExchangeErrors');
    deny(res, requestId, outcome.status, outcome.code, outcome.description);
  };
}

interface ExchangeRequest {
  bearer: string;
  zoneId: string;
  clientId: string;
  resource: string;
  method: string;
  path: string;
  requestId: string;
}

/** sts.go Exchange and its error mapping; the sandbox STS never answers it with a token. */
async function exchange(deps: ProxyDeps, r: ExchangeRequest): Promise<{ status: number; code: string; description: string; latencyMs: number }> {
  const body = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    zone_id: r.zoneId,
    application_id: r.clientId,
    subject_token: r.bearer,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    resource: r.resource,
    request_method: r.method,
    request_path: r.path,
    gateway_request_id: r.requestId,
  }).toString();
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': 'caracal-gateway', Accept: 'application/json', 'X-Request-Id': r.requestId };
  if (deps.exchangeKey.length > 0) {
    const unix = Math.floor(Date.now() / 1000);
    const nonce = newExchangeNonce();
    headers[GATEWAY_TIMESTAMP_HEADER] = String(unix);
    headers[GATEWAY_REQUEST_HEADER] = nonce;
    headers[GATEWAY_SIGNATURE_HEADER] = signGatewayExchange(deps.exchangeKey, unix, nonce, 'POST', '/oauth/2/token', Buffer.from(body));
  }
  const started = Date.now();
  let res: Response;
  try {
    res = await fetch(`${deps.stsUrl}/oauth/2/token`, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000), redirect: 'manual' });
  } catch (err) {
    const timeout = (err as Error).name === 'TimeoutError';
    return { status: timeout ? 504 : 502, code: 'sts_unavailable', description: timeout ? 'sts timeout' : 'sts unavailable', latencyMs: Date.now() - started };
  }
  const latencyMs = Date.now() - started;
  const text = await res.text();
  try {
    const e = JSON.parse(text) as { error?: string; error_description?: string };
    if (typeof e.error === 'string' && e.error !== '') return { status: res.status, code: e.error, description: e.error_description ?? '', latencyMs };
  } catch {
    // not a CaracalError body
  }
  return { status: res.status, code: 'sts_unavailable', description: res.statusText || String(res.status), latencyMs };
}

/** A request id as requestIDMiddleware accepts one (printable ASCII, at most 128), else a fresh UUIDv4. */
export function requestIdFor(req: IncomingMessage): string {
  const id = req.headers['x-request-id'];
  const value = Array.isArray(id) ? (id[0] ?? '') : (id ?? '');
  if (value !== '' && value.length <= 128 && /^[\x21-\x7e]+$/.test(value)) return value;
  return randomUUID();
}
