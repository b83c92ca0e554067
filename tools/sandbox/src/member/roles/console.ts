import type { MemberContext, RoleDefinition } from '../context.js';
import { HttpError, sendJson, type Route } from '../http.js';
import { callPeer } from '../outbound.js';

/**
 * The web console: holds both tokens and uses them against the API and the
 * Coordinator, so a token rotated without restarting the console shows up
 * as a 401 here. It does not use Redis.
 */
export const consoleRole: RoleDefinition = {
  counters: [],
  create(ctx) {
    return { usesRedis: false, consumers: [], routes: [sessionRoute(ctx)] };
  },
};

function sessionRoute(ctx: MemberContext): Route {
  return {
    method: 'GET',
    path: '/internal/session',
    async handler(_req, res) {
      const { apiUrl, coordinatorUrl } = ctx.config;
      if (!apiUrl || !coordinatorUrl) throw new HttpError(503, 'API_URL and COORDINATOR_URL must be configured');
      if (!ctx.material.has('CARACAL_ADMIN_TOKEN') || !ctx.material.has('CARACAL_COORDINATOR_TOKEN')) {
        throw new HttpError(503, 'console tokens are not loaded');
      }
      const [api, coordinator] = await Promise.all([
        callPeer(new URL('/v1/admin/whoami', apiUrl).toString(), bearer(ctx.material.current('CARACAL_ADMIN_TOKEN'))),
        callPeer(new URL('/v1/agents', coordinatorUrl).toString(), bearer(ctx.material.current('CARACAL_COORDINATOR_TOKEN'))),
      ]);
      sendJson(res, 200, { api: api.status, coordinator: coordinator.status });
    },
  };
}

function bearer(token: string): RequestInit {
  return { method: 'GET', headers: { authorization: `Bearer ${token}` } };
}
