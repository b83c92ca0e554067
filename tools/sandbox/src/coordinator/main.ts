import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { resolveTsFileSecrets } from '../shared/file-secrets.js';
import { JwksCache } from '../shared/jwks.js';
import { createNodeApp, intEnv, isPublished, loadStreamsHmacKey, mustGetenv, redisMinuteBucket, tick } from '../shared/node-app.js';
import { connectRedis, createLog, errorMessage, untilSignal } from '../shared/runtime.js';
import { startLifecycleRelay } from './relay.js';

/** apps/coordinator/src/config.ts (what the replica uses). */
function loadCoordinatorConfig() {
  resolveTsFileSecrets(['DATABASE_URL', 'REDIS_URL', 'STREAMS_HMAC_KEY', 'AUDIT_HMAC_KEY', 'IDEMPOTENCY_HMAC_KEY', 'IDEMPOTENCY_HMAC_KEY_PREVIOUS', 'CARACAL_COORDINATOR_TOKEN', 'METRICS_BEARER']);
  const issuerUrl = mustGetenv('ISSUER_URL');
  const auditHmacKey = process.env.AUDIT_HMAC_KEY ? Buffer.from(process.env.AUDIT_HMAC_KEY, 'hex') : null;
  if (auditHmacKey && auditHmacKey.length < 32) throw new Error('AUDIT_HMAC_KEY must be hex-encoded with at least 32 bytes');
  return {
    issuerUrl,
    port: intEnv('PORT', 4000),
    host: process.env.HOST ?? (isPublished() ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl: mustGetenv('DATABASE_URL'),
    redisUrl: mustGetenv('REDIS_URL'),
    stsUrl: mustGetenv('STS_URL'),
    requiredScope: mustGetenv('AGENT_COORDINATOR_SCOPE'),
    coordinatorToken: process.env.CARACAL_COORDINATOR_TOKEN ?? '',
    metricsBearer: process.env.METRICS_BEARER ?? '',
    streamsKey: loadStreamsHmacKey(),
    bodyLimit: intEnv('COORDINATOR_BODY_LIMIT_BYTES', 256 * 1024, 1024),
    rateLimitPerMin: intEnv('COORDINATOR_RATE_LIMIT_PER_MIN', 600, 0),
    readyRateLimitPerMin: intEnv('READY_RATE_LIMIT_PER_MIN', 120, 0),
    dedupeWindowSec: intEnv('RELAY_DEDUPE_WINDOW_SEC', 3600),
    relayIntervalMs: intEnv('RELAY_INTERVAL_MS', 1_000),
    relayClaimIdleMs: intEnv('RELAY_CLAIM_IDLE_SEC', 60) * 1_000,
    relayConsumerName: process.env.RELAY_CONSUMER_NAME ?? process.env.HOSTNAME ?? 'coordinator-relay-0',
  };
}

const PUBLIC_PATHS = new Set(['/health', '/ready', '/v1/verify']);
const OPERATOR_TOKEN_PATHS = new Set(['/metrics', '/stats']);
const BEARER_PREFIX = 'Bearer ';
const MAX_BEARER_BYTES = 4096;
const ID_PATTERN = /^[A-Za-z0-9_.\-:]{1,128}$/;

/** auth.ts operatorZone, for the operator-token route the replica serves (the agents list). */
function operatorZone(method: string, path: string): string | undefined {
  const parts = path.split('/').filter(Boolean);
  if (parts[0] !== 'zones' || !parts[1] || !ID_PATTERN.test(parts[1])) return undefined;
  if (parts[2] === 'agents' && method === 'GET' && parts.length === 3) return parts[1];
  return undefined;
}

export async function runCoordinator(): Promise<number> {
  const log = createLog('coordinator');
  const cfg = loadCoordinatorConfig();
  const db = new pg.Pool({ connectionString: cfg.databaseUrl, max: 20, options: '-c statement_timeout=10000 -c caracal.zone_id=*', connectionTimeoutMillis: 5000 });
  db.on('error', () => undefined);
  const redis: Redis = connectRedis(cfg.redisUrl);
  await redis.ping();
  await db.query('SELECT 1');

  const jwks = new JwksCache(cfg.stsUrl, 600_000, 30_000);
  const matchesOperatorToken = (token: string) => {
    if (!cfg.coordinatorToken) return false;
    const a = Buffer.from(token);
    const b = Buffer.from(cfg.coordinatorToken);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  // auth.ts verifyBearer: the operator token opens /stats, /metrics and the operator zone routes;
  // anything else must be a session mandate the STS signed for the zone.
  const verifyBearer = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0]!;
    if (PUBLIC_PATHS.has(path)) return;
    const auth = req.headers.authorization;
    if (typeof auth !== 'string' || !auth.startsWith(BEARER_PREFIX)) return reply.code(401).send({ error: 'missing_token' });
    const token = auth.slice(BEARER_PREFIX.length).trim();
    if (!token || token.length > MAX_BEARER_BYTES) return reply.code(401).send({ error: 'missing_token' });
    if (matchesOperatorToken(token)) {
      if (OPERATOR_TOKEN_PATHS.has(path)) return;
      if (operatorZone(req.method, path)) return;
    }
    if (OPERATOR_TOKEN_PATHS.has(path)) return reply.code(403).send({ error: 'operator_token_required' });
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return reply.code(401).send({ error: 'invalid_token' });
    }
    const zone = claims.zone_id;
    if (typeof zone !== 'string' || !ID_PATTERN.test(zone)) return reply.code(401).send({ error: 'invalid_token' });
    try {
      await jwks.verify(zone, token);
      const now = Math.floor(Date.now() / 1000);
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (claims.iss !== cfg.issuerUrl || !aud.includes(cfg.issuerUrl)) throw new Error('claim mismatch');
      if (typeof claims.exp === 'number' && claims.exp < now - 60) throw new Error('expired');
    } catch (err) {
      req.log.warn({ errorClass: errorMessage(err) }, 'jwt_verify_failed');
      return reply.code(401).send({ error: 'invalid_token' });
    }
    // A verified session mandate would reach the agent, delegation and invocation routes, which
    // the sandbox does not replicate; it gets Fastify's 404 for them.
    return undefined;
  };

  const app = createNodeApp('coordinator', { bodyLimit: cfg.bodyLimit });
  // app.ts: a global per-IP bucket on everything but /health.
  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/health' || cfg.rateLimitPerMin <= 0) return;
    const count = await tick(redis, `coordinator:global_rl:${req.ip}:${await redisMinuteBucket(redis)}`);
    if (count > cfg.rateLimitPerMin) return reply.code(429).send({ error: 'rate_limited' });
  });
  app.addHook('preHandler', verifyBearer);
  app.get('/health', async () => ({ ok: true }));
  app.get('/ready', async (req, reply) => {
    if (cfg.readyRateLimitPerMin > 0) {
      const count = await tick(redis, `coordinator:ready_rl:${req.ip}:${await redisMinuteBucket(redis)}`);
      if (count > cfg.readyRateLimitPerMin) return reply.code(429).send({ error: 'rate_limited' });
    }
    const [postgres, ping] = await Promise.allSettled([
      db.query<{ dead_outbox: boolean }>(`SELECT EXISTS (SELECT 1 FROM caracal_outbox WHERE producer = 'coordinator' AND status = 'dead') AS dead_outbox`),
      redis.ping(),
    ]);
    if (postgres.status === 'rejected') return reply.code(503).send({ ok: false, error: 'postgres_unreachable', dependency: 'postgres' });
    if (postgres.value.rows[0]?.dead_outbox === true) return reply.code(503).send({ ok: false, error: 'outbox_dead', dependency: 'outbox' });
    if (ping.status === 'rejected' || ping.value !== 'PONG') return reply.code(503).send({ ok: false, error: 'redis_unreachable', dependency: 'redis' });
    return { ok: true };
  });

  // app.ts loadRuntimeStats: three queries, cached 15 s.
  let stats: { invocations: Record<string, number>; outbox: Record<string, number>; idempotency: { rows: number; oldestSeconds: number }; expiresAt: number } | undefined;
  const loadStats = async () => {
    if (stats && stats.expiresAt > performance.now()) return stats;
    const invocations = await db.query<{ status: string; n: string }>('SELECT status, COUNT(*) AS n FROM agent_invocations GROUP BY status');
    const outbox = await db.query<{ status: string; n: string }>(`SELECT status, COUNT(*) AS n FROM caracal_outbox WHERE producer = 'coordinator' GROUP BY status`);
    const receipts = await db.query<{ n: string; oldest_seconds: string | null }>(
      `SELECT COUNT(*) AS n, EXTRACT(EPOCH FROM now() - MIN(created_at))::text AS oldest_seconds FROM coordinator_idempotency_receipts WHERE expires_at > now()`,
    );
    stats = {
      invocations: Object.fromEntries(invocations.rows.map((r) => [r.status, Number(r.n)])),
      outbox: Object.fromEntries(outbox.rows.map((r) => [r.status, Number(r.n)])),
      idempotency: { rows: Number(receipts.rows[0]?.n ?? 0), oldestSeconds: Number(receipts.rows[0]?.oldest_seconds ?? 0) },
      expiresAt: performance.now() + 15_000,
    };
    return stats;
  };
  // The sweepers, the retention cleaner and idempotent writes are not replicated: their counters stay at zero.
  const outcomes = { created: 0, replayed: 0, conflicts: 0, invalid: 0, expired: 0 };
  app.get('/stats', async () => {
    const s = await loadStats();
    return {
      invocations: s.invocations,
      outbox: s.outbox,
      idempotency: { ...s.idempotency, outcomes: { ...outcomes } },
      ttl_sweeper: { runs: 0, failures: 0, terminated: 0 },
      service_lease_sweeper: { runs: 0, failures: 0, suspended: 0 },
      retention_cleaner: { runs: 0, failures: 0, expired_edges: 0, deleted_edges: 0, deleted_sessions: 0, deleted_outbox: 0, deleted_idempotency_receipts: 0 },
      log: { emitted: 0, dropped: 0, sampled: 0 },
    };
  });
  app.get('/metrics', async (req, reply) => {
    if (cfg.metricsBearer) {
      const expected = `Bearer ${cfg.metricsBearer}`;
      const auth = req.headers.authorization;
      if (typeof auth !== 'string' || auth.length !== expected.length || !timingSafeEqual(Buffer.from(auth), Buffer.from(expected))) return reply.code(401).send({ error: 'unauthorized' });
    } else if (isPublished()) {
      return reply.code(401).send({ error: 'unauthorized' });
    }
    const s = await loadStats();
    const lines = ['# HELP caracal_invocations_total Coordinator invocations by status', '# TYPE caracal_invocations_total counter'];
    for (const [status, n] of Object.entries(s.invocations)) lines.push(`caracal_invocations_total{status="${status}"} ${n}`);
    lines.push('# HELP caracal_outbox_total Coordinator outbox rows by status', '# TYPE caracal_outbox_total gauge');
    for (const [status, n] of Object.entries(s.outbox)) lines.push(`caracal_outbox_total{status="${status}"} ${n}`);
    lines.push('# HELP caracal_idempotency_requests_total Coordinator idempotency outcomes', '# TYPE caracal_idempotency_requests_total counter');
    for (const outcome of Object.keys(outcomes) as (keyof typeof outcomes)[]) lines.push(`caracal_idempotency_requests_total{outcome="${outcome}"} ${outcomes[outcome]}`);
    lines.push('# HELP caracal_idempotency_receipts Coordinator live idempotency receipts', '# TYPE caracal_idempotency_receipts gauge', `caracal_idempotency_receipts ${s.idempotency.rows}`);
    lines.push('# HELP caracal_idempotency_oldest_seconds Age of the oldest live idempotency receipt', '# TYPE caracal_idempotency_oldest_seconds gauge', `caracal_idempotency_oldest_seconds ${s.idempotency.oldestSeconds}`);
    lines.push('# HELP caracal_ttl_sweeper_runs_total Ttl sweeper iterations', '# TYPE caracal_ttl_sweeper_runs_total counter', 'caracal_ttl_sweeper_runs_total 0');
    lines.push('# HELP caracal_service_lease_sweeper_runs_total Service lease sweeper iterations', '# TYPE caracal_service_lease_sweeper_runs_total counter', 'caracal_service_lease_sweeper_runs_total 0');
    lines.push('# HELP caracal_retention_cleaner_runs_total Retention cleaner iterations', '# TYPE caracal_retention_cleaner_runs_total counter', 'caracal_retention_cleaner_runs_total 0');
    lines.push('# HELP caracal_retention_sessions_deleted_total Terminal Sessions deleted by retention', '# TYPE caracal_retention_sessions_deleted_total counter', 'caracal_retention_sessions_deleted_total 0');
    reply.type('text/plain; version=0.0.4');
    return `${lines.join('\n')}\n`;
  });

  // routes/agents.ts GET /zones/:zoneId/agents: the list the operator token may read.
  app.get('/zones/:zoneId/agents', async (req, reply) => {
    const { zoneId } = req.params as { zoneId: string };
    if (!ID_PATTERN.test(zoneId)) return reply.code(400).send({ error: 'invalid_params' });
    const q = req.query as Record<string, string | undefined>;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    const statuses = ['active', 'suspended', 'terminated', 'expired'];
    if (!Number.isInteger(limit) || limit < 1 || limit > 500 || (q.status !== undefined && !statuses.includes(q.status)) || (q.lifecycle !== undefined && !['task', 'service'].includes(q.lifecycle))) {
      return reply.code(400).send({ error: 'invalid_query' });
    }
    if (q.cursor) {
      const probe = await db.query('SELECT 1 FROM sessions WHERE id = $1 AND zone_id = $2', [q.cursor, zoneId]);
      if (!probe.rows[0]) return reply.code(400).send({ error: 'invalid_cursor' });
    }
    const conds = ['zone_id = $1'];
    const params: unknown[] = [zoneId];
    for (const [column, value] of [
      ['status', q.status],
      ['lifecycle', q.lifecycle],
      ['application_id', q.application_id],
    ] as const) {
      if (value) {
        params.push(value);
        conds.push(`${column} = $${params.length}`);
      }
    }
    if (q.label) {
      params.push(q.label);
      conds.push(`$${params.length} = ANY(labels)`);
    }
    if (q.cursor) {
      params.push(q.cursor);
      conds.push(`id < $${params.length}`);
    }
    params.push(limit);
    const { rows } = await db.query<{ agent_session_id: string }>(
      `SELECT id AS agent_session_id, zone_id, application_id, parent_id, subject_authority_record_id, lifecycle,
              labels, status, depth, ttl_seconds, metadata_json AS metadata,
              started_at, terminated_at, termination_reason, last_heartbeat_at, heartbeat_deadline_at, lease_generation
         FROM sessions WHERE ${conds.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return { items: rows, next_cursor: rows.length === limit ? rows[rows.length - 1]!.agent_session_id : null };
  });

  const relay = startLifecycleRelay({
    redis: redis.duplicate(),
    consumer: cfg.relayConsumerName,
    streamsKey: cfg.streamsKey,
    requireSignature: isPublished(),
    dedupeTtlMs: cfg.dedupeWindowSec * 1000,
    claimIdleMs: cfg.relayClaimIdleMs,
    intervalMs: cfg.relayIntervalMs,
    log,
  });
  await app.listen({ port: cfg.port, host: cfg.host });
  await untilSignal();
  await app.close();
  await relay.stop();
  redis.disconnect();
  await db.end().catch(() => undefined);
  return 0;
}
