import { Redis } from 'ioredis';
import type { CheckContext, CheckRegistry } from './context.js';
import { derivedMismatches, kidMismatch } from './postgres.js';

interface Subject {
  user: string;
  file: string;
  adminUrl: string;
}

async function subjectOf(ctx: CheckContext): Promise<Subject> {
  if (!ctx.plan.secret) throw new Error(`${ctx.plan.material} has no secret file in its plan`);
  const target = ctx.holders.redis_acl;
  if (!target) throw new Error('redis_acl is not in CARACAL_HOLDERS, so the Redis ACL user cannot be checked');
  return { user: target.user, file: ctx.plan.secret.file, adminUrl: await ctx.material.file(target.admin_url_file) };
}

type AuthResult = { ok: true } | { ok: false; code: string };

/**
 * `AUTH user password` on a fresh connection to the host and port of the
 * admin URL (its credentials are not used). The outcome is the Redis error
 * code (`WRONGPASS`) or errno name, never a message.
 */
async function authenticate(adminUrl: string, user: string, password: string, timeoutMs: number): Promise<AuthResult> {
  let url: URL;
  try {
    url = new URL(adminUrl);
  } catch {
    throw new Error('the Redis admin URL is not a valid URL');
  }
  const timeout = Math.max(1000, Math.min(timeoutMs, 5000));
  const redis = new Redis({
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || 6379),
    tls: url.protocol === 'rediss:' ? {} : undefined,
    protocol: 2,
    lazyConnect: true,
    // Nothing but AUTH is sent: no INFO, no CLIENT SETINFO before authenticating.
    enableReadyCheck: false,
    disableClientInfo: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeout,
    commandTimeout: timeout,
  });
  let socketError: unknown;
  redis.on('error', (err: unknown) => {
    socketError = err;
  });
  try {
    try {
      await redis.connect();
    } catch (err) {
      return { ok: false, code: `connect ${redisErrorCode(socketError ?? err)}` };
    }
    try {
      const reply = await redis.call('AUTH', user, password);
      return reply === 'OK' ? { ok: true } : { ok: false, code: 'unexpected reply' };
    } catch (err) {
      return { ok: false, code: redisErrorCode(err) };
    }
  } finally {
    redis.disconnect();
  }
}

/** A Redis error code (`WRONGPASS`, `ERR`) or errno name; never the message. */
function redisErrorCode(err: unknown): string {
  const errno = (err as { code?: unknown } | undefined)?.code;
  if (typeof errno === 'string' && /^[A-Z0-9_]{1,32}$/.test(errno)) return errno;
  const message = err instanceof Error ? err.message : '';
  return /^[A-Z]{2,32}(?=\s|$)/.exec(message)?.[0] ?? 'no code';
}

export const redisChecks: CheckRegistry = {
  /** AUTH with the password now in the file works (and the derived `redisUrl` carries it). */
  async redis_auth_new(ctx) {
    const { user, file, adminUrl } = await subjectOf(ctx);
    const password = await ctx.material.currentOfFile(file);
    const mismatch = kidMismatch(ctx, file, password);
    if (mismatch) return mismatch;
    const result = await authenticate(adminUrl, user, password, ctx.timeoutMs);
    const stale = await derivedMismatches(ctx, password);
    const what = `AUTH ${user} with the password in ${file} (kid ${ctx.currentKid}): ${result.ok ? 'accepted' : `refused (${result.code})`}`;
    const derived = stale.length > 0 ? `; ${stale.join(', ')} does not carry that password` : '';
    return { ok: result.ok && stale.length === 0, detail: `${what}${derived}` };
  },

  /** AUTH with the retired password (or the abandoned one after a rollback) fails with WRONGPASS. */
  async redis_auth_old_refused(ctx) {
    const { user, file, adminUrl } = await subjectOf(ctx);
    if (!ctx.otherKid) return { ok: false, detail: `the event names no previous password of ${file} to test` };
    const old = await ctx.material.byKidInFile(file, ctx.otherKid);
    const result = await authenticate(adminUrl, user, old, ctx.timeoutMs);
    const refused = !result.ok && result.code === 'WRONGPASS';
    return { ok: refused, detail: `AUTH ${user} with the old password (kid ${ctx.otherKid}): ${result.ok ? 'accepted' : `refused (${result.code})`}` };
  },
};
