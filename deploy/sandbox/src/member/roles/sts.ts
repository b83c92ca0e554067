import { randomBytes } from 'node:crypto';
import { decodeHexKey } from '@caracal-rotation/bus';
import { GATEWAY_EXCHANGE_PATH } from '@caracal-rotation/caracal-protocol';
import type { MemberContext, RoleDefinition } from '../context.js';
import { verifyGatewayExchange } from '../gateway-verify.js';
import { readBody, sendJson, type Route } from '../http.js';
import { RevokedSessions, revocationConsumer, revokedSessionRoute } from '../revocations.js';

export const STS_REVOCATION_GROUP = 'sts-revocation';
const ACCESS_TOKEN_TTL_SECONDS = 300;

/** The STS: the Gateway exchange endpoint and a revocation consumer. */
export const stsRole: RoleDefinition = {
  counters: ['revocations_applied', 'invalid_signature', 'exchanges_ok', 'exchanges_denied'],
  create(ctx) {
    const sessions = new RevokedSessions();
    return {
      usesRedis: true,
      consumers: [revocationConsumer(ctx, STS_REVOCATION_GROUP, sessions)],
      routes: [tokenExchangeRoute(ctx), revokedSessionRoute(sessions)],
    };
  },
};

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
