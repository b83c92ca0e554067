import { timingSafeEqual } from 'node:crypto';
import pg from 'pg';
import { tsLoadKeyring } from '../shared/css1.js';
import { resolveTsFileSecrets } from '../shared/file-secrets.js';
import { createNodeApp, intEnv, isPublished, loadStreamsHmacKey, mustGetenv, redisMinuteBucket, tick } from '../shared/node-app.js';
import { connectRedis, createLog, errorMessage, untilSignal } from '../shared/runtime.js';
import { registerAdminAuditHook } from './admin-audit.js';
import { registerAdminAuth } from './auth-hook.js';
import { startOutboxDispatcher } from './outbox.js';
import { registerAdminTokenRoutes, registerZoneRoutes } from './routes.js';
import { seedBootstrapAdminToken, seedConsoleTokens } from './tokens.js';

/** apps/api/src/config.ts loadConfig: what the replica uses, with Caracal's checks and messages. */
function loadApiConfig() {
  resolveTsFileSecrets([
    'DATABASE_URL',
    'REDIS_URL',
    'CARACAL_ADMIN_TOKEN',
    'SECRET_STORE_KEK',
    'SECRET_STORE_KEK_PREVIOUS',
    'CARACAL_VAULT_TOKEN',
    'CARACAL_INFISICAL_TOKEN',
    'CARACAL_AZURE_CLIENT_SECRET',
    'CARACAL_CUSTOM_SECRETS_TOKEN',
    'STREAMS_HMAC_KEY',
    'AUDIT_HMAC_KEY',
    'GATEWAY_STS_HMAC_KEY',
    'METRICS_BEARER',
    'CONTROL_API_TOKEN',
  ]);
  const env = process.env;
  const gatewayStsHmacKey = env.GATEWAY_STS_HMAC_KEY ? Buffer.from(env.GATEWAY_STS_HMAC_KEY, 'hex') : null;
  if (gatewayStsHmacKey && gatewayStsHmacKey.length < 32) throw new Error('GATEWAY_STS_HMAC_KEY must be hex-encoded with at least 32 bytes');
  const auditHmacKey = env.AUDIT_HMAC_KEY ? Buffer.from(env.AUDIT_HMAC_KEY, 'hex') : null;
  if (auditHmacKey && auditHmacKey.length < 32) throw new Error('AUDIT_HMAC_KEY must be hex-encoded with at least 32 bytes');
  const port = intEnv('PORT', 3000, 1);
  const controlEnabled = (env.CARACAL_CONTROL_ENABLED ?? 'false') === 'true';
  const controlApiToken = controlEnabled ? (mustGetenv('STS_JWKS_URL'), mustGetenv('STS_ISSUER_URL'), mustGetenv('CONTROL_AUDIENCE'), mustGetenv('CONTROL_API_TOKEN')) : null;
  if (controlEnabled && isPublished() && !auditHmacKey) throw new Error('AUDIT_HMAC_KEY is required when CARACAL_CONTROL_ENABLED=true and CARACAL_MODE=rc or stable');
  if (isPublished()) {
    const missing = ['STS_URL', 'CARACAL_GATEWAY_URL', 'CARACAL_COORDINATOR_URL'].filter((k) => !env[k]);
    if (missing.length > 0) throw new Error(`Published API deployments require explicit service endpoints: ${missing.join(', ')}`);
  }
  return {
    port,
    host: env.HOST ?? (isPublished() ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl: mustGetenv('DATABASE_URL'),
    redisUrl: mustGetenv('REDIS_URL'),
    auditHmacKey,
    bootstrapAdminToken: env.CARACAL_ADMIN_TOKEN ?? null,
    controlApiToken,
    controlApiUrl: env.CARACAL_API_URL ?? `http://127.0.0.1:${port}`,
    bodyLimit: intEnv('API_BODY_LIMIT_BYTES', 1_048_576, 1),
    readyRateLimitPerMin: intEnv('READY_RATE_LIMIT_PER_MIN', 120, 0),
    v1RateLimitPerMin: intEnv('API_V1_RATE_LIMIT_PER_MIN', 600, 0),
    adminAuthFailLimitPerMin: intEnv('ADMIN_AUTH_FAIL_LIMIT_PER_MIN', 60, 0),
    lastUsedDebounceSec: intEnv('ADMIN_TOKEN_LAST_USED_DEBOUNCE_SEC', 60, 0),
    readyOutboxDeadMax: intEnv('API_READY_OUTBOX_DEAD_MAX', 0, 0),
    trustProxy: env.TRUST_PROXY === 'true' || env.TRUST_PROXY === '1',
    metricsBearer: env.METRICS_BEARER ?? null,
    workerId: env.WORKER_ID ?? `${env.HOSTNAME ?? 'api'}:${process.pid}`,
    outbox: {
      pollIntervalMs: intEnv('OUTBOX_POLL_MS', 250, 1),
      batchSize: intEnv('OUTBOX_BATCH_SIZE', 32, 1),
      lockDurationSec: intEnv('OUTBOX_LOCK_SEC', 30, 1),
      maxAttempts: intEnv('OUTBOX_MAX_ATTEMPTS', 100, 1),
      streamMaxLen: intEnv('OUTBOX_STREAM_MAXLEN', 100_000, 1),
    },
  };
}

/** The reserved system zone (apps/api/src/system-zone.ts SYSTEM_ZONE_SLUG / SYSTEM_ZONE_NAME). */
const SYSTEM_ZONE = { name: 'caracal.sys/system', slug: 'caracal-sys-internal' };

/**
 * app.ts onListen → provisionSystemZone, as far as the replica goes: the
 * reserved zone is looked up by slug and otherwise created through the API
 * itself with CONTROL_API_TOKEN, under the provisioning advisory lock. The
 * Operator's applications, policies and credentials are not replicated.
 */
async function provisionSystemZone(db: pg.Pool, apiUrl: string, token: string): Promise<void> {
  const lock = await db.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [4143012026]);
    const { rows } = await db.query('SELECT id FROM zones WHERE slug = $1 LIMIT 1', [SYSTEM_ZONE.slug]);
    if (rows[0]) return;
    const res = await fetch(`${apiUrl}/v1/zones`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(SYSTEM_ZONE) });
    if (res.status !== 201) throw new Error(`${(await res.text()).slice(0, 200)} (HTTP ${res.status})`);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [4143012026]).catch(() => undefined);
    lock.release();
  }
}

async function outboxHealth(db: pg.Pool) {
  const { rows } = await db.query<{ pending: string; dead: string; oldest_pending: string; oldest_dead: string }>(
    `SELECT
       count(*) FILTER (WHERE dispatched_at IS NULL AND available_at <> 'infinity'::timestamptz) AS pending,
       count(*) FILTER (WHERE dispatched_at IS NULL AND available_at = 'infinity'::timestamptz) AS dead,
       COALESCE(EXTRACT(EPOCH FROM now() - MIN(created_at) FILTER (WHERE dispatched_at IS NULL AND available_at <> 'infinity'::timestamptz)), 0) AS oldest_pending,
       COALESCE(EXTRACT(EPOCH FROM now() - MIN(created_at) FILTER (WHERE dispatched_at IS NULL AND available_at = 'infinity'::timestamptz)), 0) AS oldest_dead
     FROM event_outbox`,
  );
  const r = rows[0]!;
  return { pending: Number(r.pending), dead: Number(r.dead), oldestPending: Number(r.oldest_pending), oldestDead: Number(r.oldest_dead) };
}

/** apps/api/src/main.ts + app.ts buildApp. */
export async function runApi(): Promise<number> {
  const log = createLog('api');
  const cfg = loadApiConfig();
  const db = new pg.Pool({ connectionString: cfg.databaseUrl, max: 20, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000, options: '-c statement_timeout=15000 -c idle_in_transaction_session_timeout=30000' });
  // db.ts: every pooled connection is scoped to all zones for row-level security.
  db.on('connect', (client) => void client.query("SELECT set_config('caracal.zone_id', '*', false)").catch(() => undefined));
  db.on('error', () => undefined);
  const redis = connectRedis(cfg.redisUrl);
  try {
    await redis.ping();
    await seedBootstrapAdminToken(db, cfg.bootstrapAdminToken, (msg) => log('info', msg));
    await seedConsoleTokens(db, cfg.bootstrapAdminToken, (msg) => log('info', msg));
    // A missing or malformed keyring fails the boot (app.ts loadSecretStoreKeks).
    tsLoadKeyring();
  } catch (err) {
    log('error', `startup failed: ${errorMessage(err)}`);
    redis.disconnect();
    await db.end().catch(() => undefined);
    return 1;
  }

  const app = createNodeApp('api', { bodyLimit: cfg.bodyLimit, trustProxy: cfg.trustProxy });
  app.addHook('onSend', (req, reply, payload, done) => {
    void reply.header('x-request-id', req.id);
    if (req.url.startsWith('/v1/')) {
      void reply.header('x-content-type-options', 'nosniff');
      void reply.header('referrer-policy', 'no-referrer');
      void reply.header('cache-control', 'no-store');
    }
    done(null, payload);
  });
  if (cfg.v1RateLimitPerMin > 0) {
    app.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith('/v1/')) return;
      if ((await tick(redis, `api:v1_rl:ip:${req.ip}:${await redisMinuteBucket(redis)}`)) > cfg.v1RateLimitPerMin) return reply.code(429).send({ error: 'rate_limited' });
    });
  }
  registerAdminAuth(app, {
    db,
    redis,
    authFailLimitPerMin: cfg.adminAuthFailLimitPerMin,
    actorRateLimitPerMin: cfg.v1RateLimitPerMin,
    lastUsedDebounceSec: cfg.lastUsedDebounceSec,
    accountAssertionKey: cfg.bootstrapAdminToken,
  });
  registerAdminAuditHook(app, db, cfg.auditHmacKey);
  registerZoneRoutes(app, db);
  registerAdminTokenRoutes(app, db);

  app.get('/health', async () => ({ ok: true }));
  app.get('/metrics', async (req, reply) => {
    if (cfg.metricsBearer) {
      const expected = `Bearer ${cfg.metricsBearer}`;
      const auth = req.headers.authorization;
      if (typeof auth !== 'string' || auth.length !== expected.length || !timingSafeEqual(Buffer.from(auth), Buffer.from(expected))) return reply.code(401).send({ error: 'unauthorized' });
    } else if (isPublished()) {
      return reply.code(401).send({ error: 'unauthorized' });
    }
    const h = await outboxHealth(db);
    const counters = (rows: [string, string, number][], type: string) => rows.map(([n, help, v]) => `# HELP ${n} ${help}\n# TYPE ${n} ${type}\n${n} ${v}`).join('\n');
    void reply.type('text/plain; version=0.0.4');
    return [
      `${counters(
        [
          ['caracal_log_emitted_total', 'Dev log records emitted', 0],
          ['caracal_log_dropped_total', 'Dev log records dropped due to backpressure', 0],
          ['caracal_log_sampled_total', 'Debug log records dropped by sampler', 0],
        ],
        'counter',
      )}\n`,
      counters(
        [
          ['caracal_api_outbox_pending_total', 'Undispatched API outbox rows that remain eligible for retry.', h.pending],
          ['caracal_api_outbox_dead_total', 'API outbox rows abandoned after exhausting delivery attempts.', h.dead],
          ['caracal_api_outbox_oldest_pending_age_seconds', 'Age in seconds of the oldest pending API outbox row.', h.oldestPending],
          ['caracal_api_outbox_oldest_dead_age_seconds', 'Age in seconds of the oldest dead API outbox row.', h.oldestDead],
        ],
        'gauge',
      ),
      [
        '# HELP caracal_operator_ai_provider_last_success_timestamp_seconds Unix timestamp of the most recent successful real request to an Operator AI provider, or 0 if none.',
        '# TYPE caracal_operator_ai_provider_last_success_timestamp_seconds gauge',
        '# HELP caracal_operator_ai_provider_last_failure_timestamp_seconds Unix timestamp of the most recent failed real request to an Operator AI provider, or 0 if none.',
        '# TYPE caracal_operator_ai_provider_last_failure_timestamp_seconds gauge',
      ].join('\n'),
      counters(
        [
          ['caracal_secret_backend_operations_total', 'Secret backend operations attempted', 0],
          ['caracal_secret_backend_errors_total', 'Secret backend operations that failed', 0],
        ],
        'counter',
      ),
      '',
    ].join('\n');
  });
  app.get('/ready', async (req, reply) => {
    if (cfg.readyRateLimitPerMin > 0 && (await tick(redis, `api:ready_rl:${req.ip}:${await redisMinuteBucket(redis)}`)) > cfg.readyRateLimitPerMin) {
      return reply.code(429).send({ error: 'rate_limited' });
    }
    if (draining) return reply.code(503).send({ ok: false, draining: true });
    try {
      await db.query('SELECT 1');
    } catch {
      return reply.code(503).send({ ok: false, error: 'postgres_unreachable', dependency: 'postgres' });
    }
    try {
      if ((await redis.ping()) !== 'PONG') throw new Error('unexpected redis ping reply');
    } catch {
      return reply.code(503).send({ ok: false, error: 'redis_unreachable', dependency: 'redis' });
    }
    let h;
    try {
      h = await outboxHealth(db);
    } catch {
      return reply.code(503).send({ ok: false, error: 'outbox_unreachable', dependency: 'postgres' });
    }
    if (h.dead > cfg.readyOutboxDeadMax) return reply.code(503).send({ ok: false, error: 'outbox_dead_messages', deadCount: h.dead, limit: cfg.readyOutboxDeadMax });
    return { ok: true };
  });
  let outbox: { stop(): Promise<void> };
  try {
    const streamsKey = loadStreamsHmacKey();
    if (streamsKey === null && isPublished()) throw new Error('STREAMS_HMAC_KEY is required when CARACAL_MODE=rc or CARACAL_MODE=stable');
    outbox = startOutboxDispatcher({ db, redis, streamsKey, workerId: cfg.workerId, log, ...cfg.outbox });
  } catch (err) {
    log('error', `startup failed: ${errorMessage(err)}`);
    redis.disconnect();
    await db.end().catch(() => undefined);
    return 1;
  }
  if (cfg.controlApiToken) {
    const token = cfg.controlApiToken;
    app.addHook('onListen', async () => {
      await provisionSystemZone(db, cfg.controlApiUrl, token).catch((err: unknown) => log('error', 'system zone provisioning failed', { error: errorMessage(err) }));
    });
  }

  let draining = false;
  await app.listen({ port: cfg.port, host: cfg.host });
  await untilSignal();
  draining = true;
  await outbox.stop();
  await app.close();
  redis.disconnect();
  await db.end().catch(() => undefined);
  return 0;
}
