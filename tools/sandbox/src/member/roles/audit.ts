import type { MemberContext, RoleDefinition } from '../context.js';
import { auditConsumer, auditOutcomeKeys } from '../audit-ingest.js';
import { sendJson, type Route } from '../http.js';

/** The Audit service: ingests signed audit events and answers what became of one. */
export const auditRole: RoleDefinition = {
  counters: ['events_ingested', 'hmac_verify_failed'],
  create(ctx) {
    // Ingested ids live in memory and in Redis: memory answers this process's
    // own work, Redis what earlier runs ingested.
    const ingested = new Set<string>();
    return { usesRedis: true, consumers: [auditConsumer(ctx, ingested)], routes: [eventOutcomeRoute(ctx, ingested)] };
  },
};

function eventOutcomeRoute(ctx: MemberContext, ingestedHere: ReadonlySet<string>): Route {
  const keys = auditOutcomeKeys(ctx.config.namespace);
  return {
    method: 'GET',
    path: /^\/internal\/audit\/events\/([^/]+)$/,
    async handler(_req, res, { match }) {
      const id = decodeURIComponent(match?.[1] ?? '');
      const [ingested, deadLettered] = await Promise.all([
        ingestedHere.has(id) ? 1 : ctx.redis.sismember(keys.ingested, id),
        ctx.redis.sismember(keys.deadLettered, id),
      ]);
      sendJson(res, 200, { id, ingested: ingested === 1, dead_lettered: deadLettered === 1 });
    },
  };
}
