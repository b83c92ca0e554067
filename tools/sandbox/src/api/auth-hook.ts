import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { redisMinuteBucket, tick } from '../shared/node-app.js';
import { lookupAdminToken, sha256, type Actor } from './tokens.js';

/**
 * apps/api/src/auth.ts adminAuthPlugin: every /v1/ request needs an admin
 * token; failures answer 401 invalid_admin_token, 429 rate_limited past the
 * per-IP failure budget; capability, zone-scope and system-zone gates follow.
 */

declare module 'fastify' {
  interface FastifyRequest {
    actor: Actor | null;
    /** The Console account a derived Console token acts for (x-caracal-account). */
    account: { id: string } | null;
  }
}

const BEARER_PREFIX = 'Bearer ';
const MAX_ADMIN_BEARER_BYTES = 4096;
const INVALID_ZONE_ID = '\u0000invalid-zone';
const VERIFY_TTL_MS = 5_000;
const VERIFY_CACHE_MAX = 512;

function extractBearer(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string' || !auth.startsWith(BEARER_PREFIX)) return null;
  const token = auth.slice(BEARER_PREFIX.length).trim();
  return token.length > 0 && token.length <= MAX_ADMIN_BEARER_BYTES ? token : null;
}

function zoneFromUrl(url: string): string {
  const match = /^\/v1\/zones\/([^/?]+)/.exec(url);
  if (!match) return INVALID_ZONE_ID;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return INVALID_ZONE_ID;
  }
}

const pathOf = (url: string) => url.split('?')[0]!;

function isGlobalReadPath(method: string, url: string): boolean {
  const path = pathOf(url);
  if (path === '/v1/policies/validate') return method === 'POST';
  if (path === '/v1/policy-templates' || path.startsWith('/v1/policy-templates/')) return method === 'GET' || method === 'HEAD';
  return false;
}

const isReadOnlyRequest = (method: string, url: string) => method === 'GET' || method === 'HEAD' || isGlobalReadPath(method, url);
const isApprovalDecisionPath = (method: string, url: string) => method === 'POST' && /^\/v1\/zones\/[^/]+\/approvals\/[^/]+\/(approve|reject)$/.test(pathOf(url));
const isPublicOAuthCallback = (method: string, url: string) => (method === 'GET' || method === 'HEAD') && /^\/v1\/zones\/[^/]+\/provider-connections\/oauth\/callback$/.test(pathOf(url));

/** reserved-namespace.ts isReservedZone */
export function isReservedZone(zone: { name?: string | null; slug?: string | null }): boolean {
  return (zone.name ?? '').trim().toLowerCase().startsWith('caracal.sys/') || (zone.slug ?? '').trim().toLowerCase().startsWith('caracal-sys-');
}

const methods = (...m: string[]) => new Set(m);
/** ACCOUNT_GLOBAL_ROUTES: the deployment-wide routes an account-bound Console login may reach. */
const ACCOUNT_GLOBAL_ROUTES: ReadonlyArray<readonly [RegExp, ReadonlySet<string>]> = [
  [/^\/v1\/zones$/, methods('GET', 'HEAD', 'POST')],
  [/^\/v1\/policy-templates(?:\/.*)?$/, methods('GET', 'HEAD')],
  [/^\/v1\/policies\/validate$/, methods('POST')],
  [/^\/v1\/operator\/status$/, methods('GET', 'HEAD')],
  [/^\/v1\/operator\/capabilities$/, methods('GET', 'HEAD')],
  [/^\/v1\/operator\/ai\/status$/, methods('GET', 'HEAD')],
  [/^\/v1\/operator\/ai\/check$/, methods('POST')],
  [/^\/v1\/operator\/ai\/providers$/, methods('GET', 'HEAD', 'POST')],
  [/^\/v1\/operator\/ai\/providers\/[^/]+$/, methods('PATCH', 'DELETE')],
  [/^\/v1\/operator\/ai\/providers\/[^/]+\/key$/, methods('POST')],
  [/^\/v1\/audit-retention$/, methods('GET', 'HEAD', 'PUT')],
  [/^\/v1\/mint-rate-limit$/, methods('GET', 'HEAD', 'PUT')],
];

/** packages/serverCore/ts/src/accountAssertion.ts verifyAccountAssertion: `v1.<b64url(account)>.<exp>.<mac>`. */
function verifyAccountAssertion(adminToken: string, assertion: string, now: number): string | null {
  const parts = assertion.split('.');
  if (parts.length !== 4 || parts[0] !== 'v1') return null;
  const accountId = Buffer.from(parts[1]!, 'base64url').toString('utf8');
  if (accountId.length === 0 || Buffer.byteLength(accountId, 'utf8') > 256) return null;
  const exp = Number(parts[2]);
  if (!Number.isInteger(exp) || exp <= now) return null;
  const expected = Buffer.from(createHmac('sha256', adminToken).update(`caracal:account:v1:${accountId}:${exp}`).digest('base64url'), 'utf8');
  const got = Buffer.from(parts[3]!, 'utf8');
  return expected.length === got.length && timingSafeEqual(expected, got) ? accountId : null;
}

export interface AuthOptions {
  db: pg.Pool;
  redis: Redis;
  authFailLimitPerMin: number;
  actorRateLimitPerMin: number;
  lastUsedDebounceSec: number;
  /** CARACAL_ADMIN_TOKEN: the key of the Console's account assertions. */
  accountAssertionKey: string | null;
}

export function registerAdminAuth(app: FastifyInstance, opts: AuthOptions): void {
  const { db, redis } = opts;
  app.decorateRequest('actor', null);
  app.decorateRequest('account', null);

  // Successful verifications are cached by token digest for 5 s; failures never are.
  const verified = new Map<string, { at: number; actor: Actor }>();
  const inFlight = new Map<string, Promise<Actor | null>>();
  const verifyAdminToken = (bearer: string): Promise<Actor | null> => {
    const key = sha256(bearer).toString('base64');
    const cached = verified.get(key);
    if (cached && Date.now() - cached.at < VERIFY_TTL_MS) return Promise.resolve(cached.actor);
    const existing = inFlight.get(key);
    if (existing) return existing;
    const lookup = lookupAdminToken(db, bearer)
      .then((actor) => {
        if (actor) {
          if (verified.size >= VERIFY_CACHE_MAX) verified.delete(verified.keys().next().value!);
          verified.set(key, { at: Date.now(), actor });
        }
        return actor;
      })
      .finally(() => inFlight.delete(key));
    inFlight.set(key, lookup);
    return lookup;
  };

  const recordAuthFailure = async (ip: string): Promise<boolean> => {
    if (opts.authFailLimitPerMin <= 0) return false;
    return (await tick(redis, `api:admin_auth_fail:${ip}:${await redisMinuteBucket(redis)}`)) > opts.authFailLimitPerMin;
  };

  // Zone metadata (reserved? owner?) cached 30 s by id, misses included.
  const zoneMetaCache = new Map<string, { at: number; reserved: boolean; owner: string | null }>();
  const zoneMeta = async (zoneId: string): Promise<{ reserved: boolean; owner: string | null }> => {
    const cached = zoneMetaCache.get(zoneId);
    if (cached && Date.now() - cached.at < 30_000) return cached;
    const { rows } = await db.query<{ name: string; slug: string; owner_account_id: string | null }>('SELECT name, slug, owner_account_id FROM zones WHERE id = $1 LIMIT 1', [zoneId]);
    const entry = { at: Date.now(), reserved: rows[0] ? isReservedZone(rows[0]) : false, owner: rows[0]?.owner_account_id ?? null };
    if (zoneMetaCache.size >= 1024) zoneMetaCache.clear();
    zoneMetaCache.set(zoneId, entry);
    return entry;
  };

  app.addHook('preHandler', async (req, reply) => {
    if (!req.url.startsWith('/v1/')) return;
    if (isPublicOAuthCallback(req.method, req.url)) return;
    if (req.method === 'POST' && pathOf(req.url) === '/v1/control/invoke') return;
    const bearer = extractBearer(req);
    const actor = bearer ? await verifyAdminToken(bearer) : null;
    if (!actor) {
      if (await recordAuthFailure(req.ip)) return reply.code(429).send({ error: 'rate_limited' });
      return reply.code(401).send({ error: 'invalid_admin_token' });
    }
    if (actor.capability === 'read' && !isReadOnlyRequest(req.method, req.url)) return reply.code(403).send({ error: 'admin_token_read_only' });
    if (actor.capability === 'approve' && !isReadOnlyRequest(req.method, req.url) && !isApprovalDecisionPath(req.method, req.url)) {
      return reply.code(403).send({ error: 'admin_token_approve_only' });
    }
    if (isApprovalDecisionPath(req.method, req.url) && actor.capability === 'write' && actor.createdBy !== 'env-bootstrap') {
      return reply.code(403).send({ error: 'approve_capability_required' });
    }
    if (actor.scope === 'zone' && !isGlobalReadPath(req.method, req.url)) {
      const reqZone = zoneFromUrl(req.url);
      if (reqZone === INVALID_ZONE_ID || reqZone !== actor.zoneId) return reply.code(403).send({ error: 'admin_token_zone_mismatch' });
    }
    if (!isReadOnlyRequest(req.method, req.url) && actor.createdBy !== 'env-bootstrap') {
      const reqZone = zoneFromUrl(req.url);
      if (reqZone !== INVALID_ZONE_ID && (await zoneMeta(reqZone)).reserved) return reply.code(403).send({ error: 'system_zone_read_only' });
    }
    // A derived Console token must carry the BFF's signed account assertion; the account then sees only its own zones.
    const accountRequired = Boolean(opts.accountAssertionKey) && actor.createdBy.startsWith('env-derived');
    let account: { id: string } | null = null;
    if (accountRequired) {
      const raw = req.headers['x-caracal-account'];
      const assertion = Array.isArray(raw) ? raw[0] : raw;
      const id = typeof assertion === 'string' && assertion !== '' ? verifyAccountAssertion(opts.accountAssertionKey!, assertion, Math.floor(Date.now() / 1000)) : null;
      if (!id) return reply.code(401).send({ error: 'invalid_account_assertion' });
      account = { id };
      const reqZone = zoneFromUrl(req.url);
      if (reqZone === INVALID_ZONE_ID) {
        const path = pathOf(req.url);
        if (!ACCOUNT_GLOBAL_ROUTES.some(([pattern, methods]) => methods.has(req.method) && pattern.test(path))) return reply.code(403).send({ error: 'account_scope_required' });
      } else {
        const meta = await zoneMeta(reqZone);
        if (meta.owner !== id && !(meta.reserved && isReadOnlyRequest(req.method, req.url))) return reply.code(403).send({ error: 'zone_forbidden' });
      }
    }
    if (opts.actorRateLimitPerMin > 0 && (await tick(redis, `api:v1_rl:actor:${actor.id}:${await redisMinuteBucket(redis)}`)) > opts.actorRateLimitPerMin) {
      return reply.code(429).send({ error: 'rate_limited' });
    }
    req.actor = actor;
    req.account = account;
    const touch = opts.lastUsedDebounceSec <= 0 || (await redis.set(`api:admin_token_touched:${actor.id}`, '1', 'EX', opts.lastUsedDebounceSec, 'NX')) === 'OK';
    if (touch) db.query('UPDATE admin_tokens SET last_used_at = now() WHERE id = $1', [actor.id]).catch(() => undefined);
  });
}
