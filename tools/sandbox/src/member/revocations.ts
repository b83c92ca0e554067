import { HttpError, sendJson, type Route } from './http.js';
import type { MemberContext } from './context.js';
import { deadLetterEntry, streamSignatureCheck } from './signed-stream.js';
import type { ConsumerSpec } from './stream-consumer.js';

/**
 * Session revocation as STS and Gateway apply it: verify Caracal's stream
 * signature with the current streams key, then the previous one if this
 * holder accepts overlap; apply a valid entry, dead-letter an invalid one to
 * `<stream>.dead` (Caracal's TS revocation backend's shape), XACK either way.
 */
export class RevokedSessions {
  private readonly revoked = new Set<string>();

  add(zoneId: string, sessionId: string): void {
    this.revoked.add(JSON.stringify([zoneId, sessionId]));
  }

  has(zoneId: string, sessionId: string): boolean {
    return this.revoked.has(JSON.stringify([zoneId, sessionId]));
  }
}

export function revocationConsumer(ctx: MemberContext, group: string, sessions: RevokedSessions): ConsumerSpec {
  const stream = ctx.streams.sessionsRevoke;
  const signed = streamSignatureCheck(ctx, stream);
  const deadLetter = (id: string, fields: Record<string, string>, error: string) => deadLetterEntry(ctx, stream, group, id, fields, error);

  return {
    stream,
    group,
    async handle(id, fields) {
      if (!signed(fields)) {
        ctx.stats.inc('invalid_signature');
        await deadLetter(id, fields, 'invalid_signature');
        return;
      }
      const { zone_id: zoneId, session_id: sessionId } = fields;
      if (!zoneId || !sessionId) {
        await deadLetter(id, fields, 'invalid_payload');
        return;
      }
      sessions.add(zoneId, sessionId);
      await ctx.redis.xack(stream, group, id);
      ctx.stats.inc('revocations_applied');
    },
  };
}

export function revokedSessionRoute(sessions: RevokedSessions): Route {
  return {
    method: 'GET',
    path: '/internal/sessions/revoked',
    handler(_req, res, { url }) {
      const zoneId = url.searchParams.get('zone_id');
      const sessionId = url.searchParams.get('session_id');
      if (!zoneId || !sessionId) throw new HttpError(400, 'zone_id and session_id are required');
      sendJson(res, 200, { revoked: sessions.has(zoneId, sessionId) });
    },
  };
}
