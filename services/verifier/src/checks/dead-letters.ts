import type { CheckRegistry } from './context.js';
import { countSince } from './streams.js';

/**
 * For material without overlap, holders switch together and entries in
 * flight may be refused: count what the holders dead-lettered since the
 * rotation was requested, and report it (an expected cost, not a failure).
 */
export const deadLetterChecks: CheckRegistry = {
  async holder_dead_letters(ctx) {
    const since = Date.parse(ctx.plan.requested.requested_at);
    const streams = await countSince(ctx, `${ctx.caracal.sessionsRevoke}.dead`, since, 'error', ['invalid_signature']);
    const audit = await countSince(ctx, ctx.caracal.auditDlq, since, 'reason', ['hmac_verify_failed']);
    return { ok: true, detail: `since the request: ${streams} stream messages refused (invalid_signature), ${audit} audit events refused (hmac_verify_failed)` };
  },
};
