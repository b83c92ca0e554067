import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { decodeHexKey } from '@caracal-rotation/bus';
import { GATEWAY_EXCHANGE_PATH } from '@caracal-rotation/caracal-protocol';
import type { MemberContext, RoleDefinition } from '../context.js';
import { verifyGatewayExchange } from '../gateway-verify.js';
import { HttpError, readBody, requireBearer, sendJson, type Route } from '../http.js';
import { RevokedSessions, revocationConsumer, revokedSessionRoute } from '../revocations.js';
import { sealedRoutes } from '../sealed-routes.js';
import { keyInvalidationConsumer } from '../zone-keys/invalidate-consumer.js';
import { zoneKeyRoutes } from '../zone-keys/routes.js';
import { ZoneKeyStore } from '../zone-keys/store.js';

export const STS_REVOCATION_GROUP = 'sts-revocation';
const ACCESS_TOKEN_TTL_SECONDS = 300;

/**
 * The STS: the Gateway exchange endpoint, a revocation consumer, the zone
 * signing keys with their JWKS (and a `caracal.keys.invalidate` consumer),
 * and a read-only check of the sealed zone secrets when DATABASE_URL is given.
 */
export const stsRole: RoleDefinition = {
  counters: ['revocations_applied', 'invalid_signature', 'exchanges_ok', 'exchanges_denied', 'keys_invalidated'],
  create(ctx) {
    const sessions = new RevokedSessions();
    const zones = new ZoneKeyStore(ctx.redis, ctx.config.namespace);
    const authorize = (req: IncomingMessage) => requireStsAdmin(ctx, req);
    return {
      usesRedis: true,
      consumers: [revocationConsumer(ctx, STS_REVOCATION_GROUP, sessions), keyInvalidationConsumer(ctx, zones)],
      routes: [
        tokenExchangeRoute(ctx),
        revokedSessionRoute(sessions),
        ...zoneKeyRoutes(ctx, zones, authorize),
        ...sealedRoutes(ctx, authorize, { write: false }),
      ],
    };
  },
};

function requireStsAdmin(ctx: MemberContext, req: IncomingMessage): void {
  if (!ctx.material.has('STS_ADMIN_TOKEN')) throw new HttpError(503, 'STS_ADMIN_TOKEN is not loaded');
  requireBearer(req, ctx.material.current('STS_ADMIN_TOKEN'));
}

function tokenExchangeRoute(ctx: MemberContext): Route {
  const keys = ctx.material.accepted('GATEWAY_STS_HMAC_KEY').map((hex) => decodeHexKey(hex));
  return {
    method: 'POST',
    path: GATEWAY_EXCHANGE_PATH,
    async handler(req, res, { url }) {
      const verdict = await verifyGatewayExchange({
        headers: req.headers,
        method: req.method ?? 'POST',
        path: url.pathname,
        body: await readBody(req),
        keys,
        redis: ctx.redis,
        noncePrefix: ctx.streams.gatewayNoncePrefix,
      });
      if (!verdict.ok) {
        ctx.stats.inc('exchanges_denied');
        ctx.log('warn', 'gateway exchange denied', { reason: verdict.reason });
        sendJson(res, 401, { error: 'invalid gateway exchange signature' });
        return;
      }
      ctx.stats.inc('exchanges_ok');
      sendJson(res, 200, { access_token: randomBytes(32).toString('base64url'), token_type: 'Bearer', expires_in: ACCESS_TOKEN_TTL_SECONDS });
    },
  };
}
