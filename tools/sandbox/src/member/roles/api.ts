import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { auditEventFields, fieldArgs, revocationFields } from '@caracal-rotation/caracal-protocol';
import type { SecretEnvName } from '../../members.js';
import type { MemberContext, RoleDefinition } from '../context.js';
import { HttpError, readJsonObject, requireBearer, sendJson, type Route } from '../http.js';
import { sealedRoutes } from '../sealed-routes.js';

/**
 * The API: admin-token endpoints, the producer side of the two streams the
 * rotation verifier checks (revocations signed with the streams key, audit
 * events signed with the audit key), and the sealed zone secrets with their
 * re-seal job (when DATABASE_URL is given).
 */
export const apiRole: RoleDefinition = {
  counters: [],
  create(ctx) {
    const routes = [whoamiRoute(ctx), revokeRoute(ctx), auditEventRoute(ctx), ...sealedRoutes(ctx, (req) => requireAdmin(ctx, req), { write: true })];
    return { usesRedis: true, consumers: [], routes };
  },
};

function loaded(ctx: MemberContext, name: SecretEnvName): string {
  if (!ctx.material.has(name)) throw new HttpError(503, `${name} is not loaded`);
  return ctx.material.current(name);
}

/** Current token only: Caracal's API revokes older admin tokens at boot. */
function requireAdmin(ctx: MemberContext, req: IncomingMessage): void {
  requireBearer(req, loaded(ctx, 'CARACAL_ADMIN_TOKEN'));
}

function whoamiRoute(ctx: MemberContext): Route {
  return {
    method: 'GET',
    path: '/v1/admin/whoami',
    handler(req, res) {
      requireAdmin(ctx, req);
      sendJson(res, 200, { subject: 'caracal-admin', kind: 'bootstrap_admin' });
    },
  };
}

function revokeRoute(ctx: MemberContext): Route {
  return {
    method: 'POST',
    path: '/v1/sessions/revoke',
    async handler(req, res) {
      requireAdmin(ctx, req);
      const body = await readJsonObject(req);
      const [zoneId, sessionId, reason] = [body.zone_id, body.session_id, body.reason ?? ''];
      if (typeof zoneId !== 'string' || zoneId === '' || typeof sessionId !== 'string' || sessionId === '' || typeof reason !== 'string') {
        throw new HttpError(400, 'zone_id and session_id must be non-empty strings, reason a string');
      }
      const stream = ctx.streams.sessionsRevoke;
      const fields = revocationFields(stream, loaded(ctx, 'STREAMS_HMAC_KEY'), { zone_id: zoneId, session_id: sessionId, reason });
      const entryId = await ctx.redis.xadd(stream, '*', ...fieldArgs(fields));
      sendJson(res, 202, { entry_id: entryId });
    },
  };
}

function auditEventRoute(ctx: MemberContext): Route {
  return {
    method: 'POST',
    path: '/v1/audit/events',
    async handler(req, res) {
      requireAdmin(ctx, req);
      const body = await readJsonObject(req);
      if (body.event === undefined) throw new HttpError(400, 'event is required');
      if (body.id !== undefined && (typeof body.id !== 'string' || body.id === '')) throw new HttpError(400, 'id must be a non-empty string');
      const id = (body.id as string | undefined) ?? randomUUID();
      const fields = auditEventFields(loaded(ctx, 'AUDIT_HMAC_KEY'), id, JSON.stringify(body.event));
      const entryId = await ctx.redis.xadd(ctx.streams.auditEvents, '*', ...fieldArgs(fields));
      sendJson(res, 202, { id, entry_id: entryId });
    },
  };
}
