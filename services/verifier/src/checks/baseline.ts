import { randomUUID } from 'node:crypto';
import { bearer, eventually, httpJson, memberUrl, type CheckRegistry } from './context.js';

/** What the seed asks after every rotation: /ready, audit ingestion, revocation propagation, the Gateway exchange. */
export const baselineChecks: CheckRegistry = {
  async holders_ready(ctx) {
    const problems = ctx.rolled.filter((h) => !h.ok).map((h) => `${h.service}: ${h.error ?? 'not rolled'}`);
    for (const { service } of ctx.plan.holders) {
      if (ctx.rolled.some((h) => h.service === service && !h.ok)) continue;
      const { status, body } = await httpJson(`${memberUrl(ctx, service)}/ready`).catch((err: Error) => ({ status: 0, body: { error: err.message } }));
      if (status !== 200) problems.push(`${service}: /ready answered ${status} ${JSON.stringify(body).slice(0, 200)}`);
    }
    return problems.length ? { ok: false, detail: problems.join('; ') } : { ok: true, detail: `${ctx.plan.holders.length} holders ready` };
  },

  async audit_ingest(ctx) {
    const token = await ctx.material.current('CARACAL_ADMIN_TOKEN');
    const id = `rotation-canary-${randomUUID()}`;
    const posted = await httpJson(`${memberUrl(ctx, 'api')}/v1/audit/events`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ id, event: { type: 'rotation.canary', rotation_id: ctx.rotationId, phase: ctx.phase } }),
    });
    if (posted.status !== 202) return { ok: false, detail: `API refused the audit event: ${posted.status}` };
    const outcome = await eventually(ctx, async () => {
      const { body } = await httpJson(`${memberUrl(ctx, 'audit')}/internal/audit/events/${id}`);
      return body.ingested === true ? 'ingested' : body.dead_lettered === true ? 'dead-lettered' : undefined;
    });
    return outcome === 'ingested'
      ? { ok: true, detail: `audit event ${id} ingested` }
      : { ok: false, detail: `audit event from the API was ${outcome ?? 'not ingested in time'} (audit DLQ: hmac_verify_failed)` };
  },

  async revocation_propagation(ctx) {
    const token = await ctx.material.current('CARACAL_ADMIN_TOKEN');
    const session = { zone_id: 'rotation-canary', session_id: randomUUID(), reason: `rotation ${ctx.rotationId} ${ctx.phase}` };
    const posted = await httpJson(`${memberUrl(ctx, 'api')}/v1/sessions/revoke`, {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify(session),
    });
    if (posted.status !== 202) return { ok: false, detail: `API refused the canary revocation: ${posted.status}` };
    const missing: string[] = [];
    for (const member of ['sts', 'gateway']) {
      const seen = await eventually(ctx, async () => {
        const { body } = await httpJson(`${memberUrl(ctx, member)}/internal/sessions/revoked?zone_id=${session.zone_id}&session_id=${session.session_id}`);
        return body.revoked === true ? true : undefined;
      });
      if (!seen) missing.push(member);
    }
    return missing.length ? { ok: false, detail: `canary revocation not applied by ${missing.join(' and ')}` } : { ok: true, detail: 'canary revocation applied by sts and gateway' };
  },

  async gateway_exchange(ctx) {
    const token = await ctx.material.current('CARACAL_ADMIN_TOKEN');
    const { status, body } = await httpJson(`${memberUrl(ctx, 'gateway')}/internal/exchange`, { method: 'POST', headers: bearer(token) });
    return status === 200 ? { ok: true, detail: 'gateway exchange with STS succeeded' } : { ok: false, detail: `gateway exchange failed: ${status} ${JSON.stringify(body).slice(0, 200)}` };
  },
};
