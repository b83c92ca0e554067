import type { RoleDefinition } from '../context.js';
import { HttpError, requireBearer, sendJson } from '../http.js';

/** The Coordinator: one endpoint behind a single constant-time token compare. */
export const coordinatorRole: RoleDefinition = {
  counters: [],
  create(ctx) {
    return {
      usesRedis: true,
      consumers: [],
      routes: [
        {
          method: 'GET',
          path: '/v1/agents',
          handler(req, res) {
            if (!ctx.material.has('CARACAL_COORDINATOR_TOKEN')) throw new HttpError(503, 'CARACAL_COORDINATOR_TOKEN is not loaded');
            requireBearer(req, ctx.material.current('CARACAL_COORDINATOR_TOKEN'));
            sendJson(res, 200, { agents: [] });
          },
        },
      ],
    };
  },
};
