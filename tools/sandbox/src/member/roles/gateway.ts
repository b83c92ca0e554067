import { GATEWAY_EXCHANGE_PATH, signGatewayExchange } from '@caracal-rotation/caracal-protocol';
import type { MemberContext, RoleDefinition } from '../context.js';
import { HttpError, requireBearer, sendJson, type Route } from '../http.js';
import { callPeer } from '../outbound.js';
import { RevokedSessions, revocationConsumer, revokedSessionRoute } from '../revocations.js';

/** Caracal names one revocation group per gateway host. */
export function gatewayRevocationGroup(hostId: string): string {
  return `gateway-revocation:${hostId}`;
}

const EXCHANGE_BODY = 'grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange';

/** The Gateway: a revocation consumer, and an on-demand exchange with the STS. */
export const gatewayRole: RoleDefinition = {
  counters: ['revocations_applied', 'invalid_signature', 'exchanges_ok', 'exchanges_denied'],
  create(ctx) {
    const sessions = new RevokedSessions();
    return {
      usesRedis: true,
      consumers: [revocationConsumer(ctx, gatewayRevocationGroup(ctx.config.hostId), sessions)],
      routes: [revokedSessionRoute(sessions), exchangeRoute(ctx)],
    };
  },
};

/** Performs a real exchange with the STS under this gateway's current key. */
function exchangeRoute(ctx: MemberContext): Route {
  return {
    method: 'POST',
    path: '/internal/exchange',
    async handler(req, res) {
      if (!ctx.material.has('CARACAL_ADMIN_TOKEN') || !ctx.material.has('GATEWAY_STS_HMAC_KEY')) {
        throw new HttpError(503, 'gateway secrets are not loaded');
      }
      requireBearer(req, ctx.material.current('CARACAL_ADMIN_TOKEN'));
      if (!ctx.config.stsUrl) throw new HttpError(503, 'STS_URL is not configured');
      const headers = signGatewayExchange(ctx.material.current('GATEWAY_STS_HMAC_KEY'), {
        method: 'POST',
        path: GATEWAY_EXCHANGE_PATH,
        body: EXCHANGE_BODY,
      });
      const sts = await callPeer(new URL(GATEWAY_EXCHANGE_PATH, ctx.config.stsUrl).toString(), {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        body: EXCHANGE_BODY,
      });
      const ok = sts.status === 200;
      ctx.stats.inc(ok ? 'exchanges_ok' : 'exchanges_denied');
      sendJson(res, ok ? 200 : 502, { status: sts.status, ok, ...(sts.error ? { error: sts.error } : {}) });
    },
  };
}
