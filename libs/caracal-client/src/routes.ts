/**
 * Every HTTP request the orchestrator sends to Caracal, with the Caracal
 * source file (Garudex-Labs/caracal) that answers it. Nothing else in the
 * orchestrator builds a request to Caracal; the contract suite
 * (test/caracal-contract) exercises each route against the sandbox and fails
 * on one it does not list. The requests that are not HTTP (stream probes,
 * logins, SQL, the re-seal job) are in probes.ts.
 */
export type CaracalServiceName = 'api' | 'sts' | 'gateway' | 'audit' | 'coordinator' | 'web';

export interface CaracalRoute {
  /** The services that serve it. */
  services: readonly CaracalServiceName[];
  method: 'GET' | 'POST';
  /** Path with `{name}` parameters. */
  path: string;
  /** Headers the orchestrator sends (values described, never real). */
  headers: string;
  /** The body the orchestrator sends, or `none`. */
  body: string;
  /** The Caracal files that serve it (path:line where it helps). */
  source: string;
  /** What the orchestrator relies on from the answer. */
  relies: string;
}

export const CARACAL_ROUTES = {
  ready: {
    services: ['api', 'sts', 'gateway', 'audit', 'coordinator', 'web'],
    method: 'GET',
    path: '/ready',
    headers: 'none',
    body: 'none',
    source:
      'services/sts/internal/server.go handleReady, services/gateway/internal/server.go handleReady, services/audit/internal/server.go handleReady, apps/api/src/app.ts, apps/coordinator/src/app.ts, apps/auth/src/server.ts',
    relies: '200 when the service can serve; 503 with a reason ({"ok":false,"ready":false,"reason"} on the Go services, {ok:false,error,dependency} on the Node ones) otherwise',
  },
  metrics: {
    services: ['sts', 'gateway', 'audit'],
    method: 'GET',
    path: '/metrics',
    headers: 'Authorization: Bearer METRICS_BEARER',
    body: 'none',
    source:
      'services/gateway/internal/server.go handleMetrics, services/audit/internal/server.go handleMetrics, services/sts/internal/server.go handleMetrics, packages/core/go/metrics (Render)',
    relies: 'Bearer METRICS_BEARER → 200 Prometheus text, one `name value` line per counter, values per process (they restart at 0); a wrong bearer → 401',
  },
  listZones: {
    services: ['api'],
    method: 'GET',
    path: '/v1/zones',
    headers: 'Authorization: Bearer <admin token, or a read-capability one>',
    body: 'none',
    source: 'apps/api/src/routes/zones.ts, apps/api/src/routes/list-pagination.ts, apps/api/src/auth.ts',
    relies:
      '?limit=N&cursor=C → 200 {items:[{id,…}], next_cursor} (limit ≤ 500, the reserved system zone not listed); an unknown or revoked token → 401 {"error":"invalid_admin_token"}; 429 {"error":"rate_limited"} after 60 failures a minute from one address',
  },
  mintAdminToken: {
    services: ['api'],
    method: 'POST',
    path: '/v1/admin-tokens',
    headers: 'Authorization: Bearer <admin token>, Content-Type: application/json',
    body: '{"name","scope":"global","capability":"read"}',
    source: 'apps/api/src/routes/admin-tokens.ts',
    relies: '201 {id, token, …}: the plaintext once; the token can read but any write answers 403 admin_token_read_only',
  },
  coordinatorStats: {
    services: ['coordinator'],
    method: 'GET',
    path: '/stats',
    headers: 'Authorization: Bearer <coordinator token>',
    body: 'none',
    source: 'apps/coordinator/src/app.ts (GET /stats), apps/coordinator/src/auth.ts (OPERATOR_TOKEN_PATHS, matchesOperatorToken)',
    relies: 'the coordinator token → 200 {invocations, outbox, idempotency, …}; any other bearer → 403 {"error":"operator_token_required"}; none → 401 {"error":"missing_token"}',
  },
  rotateZoneSigningKey: {
    services: ['sts'],
    method: 'POST',
    path: '/internal/zones/{zone}/signing-key/rotate',
    headers: 'Authorization: Bearer STS_ADMIN_TOKEN',
    body: 'none',
    source: 'services/sts/internal/server.go handleRotateZoneSigningKey, services/sts/internal/jwt.go RotateZoneSigningKey',
    relies: '200 {"rotated":true,"zone_id","kid"}; 401 for a wrong token; 404 when STS_ADMIN_TOKEN is unset; 500 on failure',
  },
  jwks: {
    services: ['sts'],
    method: 'GET',
    path: '/.well-known/jwks.json',
    headers: 'none',
    body: 'none',
    source: 'services/sts/internal/server.go handleJWKS, services/sts/internal/db.go GetZoneSigningKeySecrets',
    relies:
      '?zone_id=Z → 200 {keys:[{kty:"EC",crv:"P-256",kid,alg:"ES256",x,y}]} active key first, the previous key while the active one is under 24 h old; 404 when the zone has no key; keys no KEK opens are skipped (counted in caracal_sts_jwks_invalid_keys_total), 500 "signing key decryption failed" when none opens',
  },
  policyStatus: {
    services: ['sts'],
    method: 'GET',
    path: '/internal/policy/status/{zone}',
    headers: 'X-Caracal-Gateway-Timestamp, X-Caracal-Gateway-Request (a fresh nonce), X-Caracal-Gateway-Signature (GATEWAY_STS_HMAC_KEY)',
    body: 'none',
    source: 'services/sts/internal/simulation.go handlePolicyStatus, packages/core/go/sts/gateway_auth.go, services/sts/internal/gateway_nonce.go',
    relies:
      'a valid signature → 200 {"zone_id","loaded"} (loaded once the zone\'s policy was loaded, the deny-all fallback included); a wrong key → 401 {"error":"access_denied","error_description":"invalid policy status request signature"}',
  },
} as const satisfies Record<string, CaracalRoute>;

export type CaracalRouteName = keyof typeof CARACAL_ROUTES;
