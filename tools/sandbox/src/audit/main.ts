import type { IncomingMessage, ServerResponse } from 'node:http';
import { goHexDecode } from '../shared/css1.js';
import { exitLikeGoPanic, GoPanic, resolveGoFileSecrets } from '../shared/file-secrets.js';
import { goError, goJson, goMap, GoMux, goNotFound, headerEquals, listenGo, storesUnreachable, writeReadyFailure } from '../shared/go-http.js';
import { counter, gauge, METRICS_CONTENT_TYPE, renderMetrics } from '../shared/go-metrics.js';
import { connectRedis, createLog, errorMessage, goPool, untilSignal } from '../shared/runtime.js';
import { goMode } from '../sts/config.js';
import { AUDIT_DLQ_STREAM, AUDIT_GROUP, AUDIT_STREAM, AuditConsumer } from './consumer.js';
import { rehashChains } from './store.js';
import { TamperSweeper } from './tamper.js';

interface AuditConfig {
  port: number;
  databaseUrl: string;
  redisUrl: string;
  published: boolean;
  key: Buffer;
  metricsBearer: string;
  consumerName: string;
  retentionDays: number;
  rollingHours: number;
}

/** services/audit/internal/config.go loadConfig. */
function loadAuditConfig(env: NodeJS.ProcessEnv = process.env): AuditConfig {
  resolveGoFileSecrets(['AUDIT_HMAC_KEY'], env);
  resolveGoFileSecrets(['AUDIT_ADMIN_TOKEN'], env);
  resolveGoFileSecrets(['METRICS_BEARER'], env);
  resolveGoFileSecrets(['DATABASE_URL', 'REDIS_URL'], env);
  const missing = ['PORT', 'DATABASE_URL', 'REDIS_URL'].filter((k) => !env[k]);
  if (missing.length > 0) throw new GoPanic(`required env vars missing: ${missing.join(', ')}`);
  // Caracal also requires PORT 9090; the sandbox runs every service on one host and takes the port it is given.
  const published = goMode(env) !== 'dev';
  let key: Buffer = Buffer.alloc(0);
  const hex = env.AUDIT_HMAC_KEY ?? '';
  if (hex !== '') {
    try {
      key = goHexDecode(hex);
    } catch (err) {
      throw new Error(`config: AUDIT_HMAC_KEY: invalid hex: ${errorMessage(err)}`);
    }
    if (key.length < 32) throw new Error('config: AUDIT_HMAC_KEY: must be at least 32 bytes');
  } else if (published) {
    throw new Error('config: AUDIT_HMAC_KEY: required when CARACAL_MODE=rc or CARACAL_MODE=stable');
  }
  return {
    port: Number(env.PORT),
    databaseUrl: env.DATABASE_URL!,
    redisUrl: env.REDIS_URL!,
    published,
    key,
    metricsBearer: env.METRICS_BEARER ?? '',
    consumerName: env.HOSTNAME || 'audit-worker-0',
    retentionDays: Number(env.AUDIT_RETENTION_DAYS || 365),
    rollingHours: Number(env.AUDIT_TAMPER_ROLLING_HOURS || 4),
  };
}

/** services/audit/cmd/audit + internal/server.go. */
export async function runAudit(): Promise<number> {
  const log = createLog('audit');
  let cfg: AuditConfig;
  try {
    cfg = loadAuditConfig();
  } catch (err) {
    if (err instanceof GoPanic) exitLikeGoPanic(err);
    log('error', 'init failed', { error: errorMessage(err) });
    return 1;
  }
  if (cfg.key.length === 0) log('warn', 'AUDIT_HMAC_KEY not set: chain HMAC disabled and producer signatures not verified');
  const db = goPool(cfg.databaseUrl);
  const redis = connectRedis(cfg.redisUrl);
  const reader = redis.duplicate();
  const consumer = new AuditConsumer({ db, redis, reader, key: cfg.key, consumerName: cfg.consumerName, maxDeliveries: 8, claimIdleMs: 30_000, log });
  const sweeper = new TamperSweeper(db, cfg.key, cfg.retentionDays * 24 * 3600 * 1000, cfg.rollingHours * 3600 * 1000, log);
  let stopped = false;
  const running = consumer.run(() => stopped);
  void (async () => {
    try {
      const rehash = await rehashChains(db, cfg.key);
      if (rehash) log('info', 'audit chain rehash complete', rehash);
    } catch (err) {
      log('error', 'audit chain rehash failed', { error: errorMessage(err) });
    }
    await sweeper.start();
  })();

  // pollConsumerLag: every 30 s, the group's pending count, its oldest idle entry, the DLQ size and age.
  const lag = { consumerLag: 0, pelOldest: 0, dlqSize: 0, dlqOldest: 0 };
  const poll = setInterval(() => {
    void (async () => {
      try {
        const summary = (await redis.xpending(AUDIT_STREAM, AUDIT_GROUP)) as [number, ...unknown[]];
        lag.consumerLag = Number(summary[0]);
        const oldest = (await redis.xpending(AUDIT_STREAM, AUDIT_GROUP, '-', '+', 1)) as [string, string, number, number][];
        lag.pelOldest = oldest[0] ? Math.floor(oldest[0][2] / 1000) : 0;
        lag.dlqSize = await redis.xlen(AUDIT_DLQ_STREAM);
        const first = (await redis.xrange(AUDIT_DLQ_STREAM, '-', '+', 'COUNT', 1)) as [string, string[]][];
        lag.dlqOldest = first[0] ? Math.max(0, Math.floor((Date.now() - Number(first[0][0].split('-')[0])) / 1000)) : 0;
      } catch (err) {
        log('warn', 'xpending poll', { error: errorMessage(err) });
      }
    })();
  }, 30_000);

  const ready = async (_req: IncomingMessage, res: ServerResponse) => {
    if (!consumer.isHealthy()) return writeReadyFailure(res, 'consumer_unhealthy');
    const unreachable = await storesUnreachable(db, redis);
    if (unreachable) return writeReadyFailure(res, unreachable);
    goJson(res, 200, goMap({ ready: true }));
  };

  const metrics = (req: IncomingMessage, res: ServerResponse) => {
    const authorized = cfg.metricsBearer === '' ? !cfg.published : headerEquals(req.headers.authorization, `Bearer ${cfg.metricsBearer}`);
    if (!authorized) return goError(res, 401, 'unauthorized');
    const c = consumer.counters;
    const t = sweeper.counters;
    res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE });
    res.end(
      renderMetrics([
        counter('caracal_audit_inserts_total', 'Audit events inserted into storage', c.inserts),
        counter('caracal_audit_export_events_total', 'Audit events exported to archive storage', 0),
        counter('caracal_audit_export_errors_total', 'Audit export failures', 0),
        gauge('caracal_audit_export_duration_seconds', 'Most recent audit export duration', 0),
        gauge('caracal_audit_export_backlog_hours', 'Completed audit hours waiting for Parquet export', 0),
        gauge('caracal_audit_consumer_lag', 'Audit stream pending entry count', lag.consumerLag),
        gauge('caracal_audit_consumer_pel_oldest_seconds', 'Oldest audit pending entry age', lag.pelOldest),
        gauge('caracal_audit_dlq_size', 'Audit dead-letter stream size', lag.dlqSize),
        gauge('caracal_audit_dlq_oldest_age_seconds', 'Oldest audit dead-letter event age', lag.dlqOldest),
        counter('caracal_audit_parse_errors_total', 'Audit stream parse errors', c.parseErrors),
        counter('caracal_audit_dlq_total', 'Audit events moved to the dead-letter stream', c.dlqTotal),
        counter('caracal_audit_retries_total', 'Audit event delivery retries', c.retriesTotal),
        counter('caracal_audit_hmac_failures_total', 'Audit producer HMAC verification failures', c.hmacFailTotal),
        counter('caracal_audit_tamper_replay_total', 'Audit replayed events rejected as tamper attempts', c.tamperReplay),
        counter('caracal_audit_tamper_checked_total', 'Audit chain events checked for tamper evidence', t.checked),
        counter('caracal_audit_tamper_mismatch_total', 'Audit chain hash mismatches detected', t.mismatches),
        counter('caracal_audit_tamper_chain_breaks_total', 'Audit chain ordering breaks detected', t.chainBreaks),
        counter('caracal_audit_tamper_hmac_failures_total', 'Audit stored HMAC mismatches detected', t.hmacFailures),
        gauge('caracal_audit_tamper_last_sweep_unix', 'Unix timestamp of the last audit tamper sweep', t.lastSweepUnix),
        gauge('caracal_audit_tamper_last_full_unix', 'Unix timestamp of the last full audit tamper sweep', t.lastFullUnix),
        counter('caracal_audit_retention_created_total', 'Audit retention partitions created', 0),
        counter('caracal_audit_retention_dropped_total', 'Audit retention partitions dropped', 0),
        gauge('caracal_audit_is_export_leader', 'Whether this Audit replica holds the export lease', 0),
        gauge('caracal_audit_is_retention_leader', 'Whether this Audit replica holds the retention lease', 0),
        counter('caracal_audit_export_lease_transitions_total', 'Audit export leadership changes (acquisitions plus losses)', 0),
        counter('caracal_audit_retention_lease_transitions_total', 'Audit retention leadership changes (acquisitions plus losses)', 0),
      ]),
    );
  };

  // The search and DLQ routes answer 404 while AUDIT_ADMIN_TOKEN is unset, as in compose (authorizeAdmin).
  const adminOnly = (_req: IncomingMessage, res: ServerResponse) => goNotFound(res);
  const mux = new GoMux()
    .handle('GET /health', (_req, res) => {
      if (!consumer.isHealthy()) return writeReadyFailure(res, 'consumer_unhealthy');
      res.writeHead(200);
      res.end();
    })
    .handle('GET /ready', ready)
    .handle('GET /metrics', metrics)
    .handle('GET /api/audit/search', adminOnly)
    .handle('GET /api/audit/dlq', adminOnly)
    .handle('GET /api/audit/dlq/{id}', adminOnly)
    .handle('POST /api/audit/dlq/replay', adminOnly);
  const server = await listenGo(mux, cfg.port, (err) => log('error', 'recovered panic in http handler', { error: errorMessage(err) }));
  log('info', 'listening', { port: String(server.port) });
  await untilSignal();
  stopped = true;
  clearInterval(poll);
  sweeper.stop();
  await server.close();
  reader.disconnect();
  await running.catch(() => undefined);
  redis.disconnect();
  await db.end().catch(() => undefined);
  return 0;
}
