import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { exitLikeGoPanic, GoPanic } from '../shared/file-secrets.js';
import { goError, goJson, goMap, GoMux, headerEquals, listenGo, withinReadyTimeout, writeReadyFailure } from '../shared/go-http.js';
import { gauge, METRICS_CONTENT_TYPE } from '../shared/go-metrics.js';
import { connectRedis, createLog, errorMessage, goPool, replicaHostname, untilSignal, type Log } from '../shared/runtime.js';
import { loadGatewayConfig, type GatewayConfig } from './config.js';
import { GatewayMetrics } from './metrics.js';
import { createProxy, requestIdFor } from './proxy.js';
import { RevocationStore, startRevocationConsumer } from './revocations.js';

const DB_MAX_CONNS = 20;
/** audit.ClientConfig's default buffer (packages/core/go/audit/client.go defaultBufferCap). */
const AUDIT_QUEUE_CAP = 10_000;

interface GatewayDeps {
  cfg: GatewayConfig;
  db: pg.Pool;
  redis: Redis;
  store: RevocationStore;
  metrics: GatewayMetrics;
  log: Log;
}

/** services/gateway/internal/server.go Run: the mux, behind the request-id middleware. */
function gatewayMux(deps: GatewayDeps): GoMux {
  const { cfg, db, redis, store, metrics, log } = deps;

  const ready = async (_req: IncomingMessage, res: ServerResponse) => {
    try {
      await withinReadyTimeout(redis.ping());
    } catch {
      return writeReadyFailure(res, 'redis_unreachable');
    }
    if (!store.snapshotFresh()) return writeReadyFailure(res, 'revocation_snapshot_stale');
    try {
      const answer = await withinReadyTimeout(fetch(`${cfg.stsUrl}/health`, { signal: AbortSignal.timeout(2000) }));
      if (answer.status < 200 || answer.status >= 300) throw new Error(`sts health status: ${answer.status}`);
    } catch {
      return writeReadyFailure(res, 'sts_unreachable');
    }
    goJson(res, 200, goMap({ ok: true, ready: true }));
  };

  const metricsAuthorized = (req: IncomingMessage) => (cfg.metricsBearer === '' ? !cfg.published : headerEquals(req.headers.authorization, `Bearer ${cfg.metricsBearer}`));

  const renderMetrics = (req: IncomingMessage, res: ServerResponse) => {
    if (!metricsAuthorized(req)) return goError(res, 401, 'unauthorized');
    // refreshMetricGauges
    metrics.set('revocationsActive', store.size);
    const age = store.snapshotAgeMs();
    metrics.set('revocationSnapshotAgeSeconds', age === undefined ? 0 : Math.floor(age / 1000));
    metrics.set('revocationSnapshotFresh', store.snapshotFresh() ? 1 : 0);
    const acquired = db.totalCount - db.idleCount;
    res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE });
    res.end(
      metrics.render([
        gauge('caracal_db_pool_in_use_ratio', 'Fraction of the Postgres pool currently in use', acquired / DB_MAX_CONNS),
        gauge('caracal_db_pool_max_conns', 'Configured maximum Postgres pool size', DB_MAX_CONNS),
        gauge('caracal_db_pool_acquired_conns', 'Postgres pool connections currently checked out', acquired),
      ]),
    );
  };

  // handleRevocationReload: a snapshot reload, authorized by CARACAL_ADMIN_TOKEN; anything else is a 404.
  const reload = async (req: IncomingMessage, res: ServerResponse) => {
    const presented = (req.headers.authorization ?? '').trim();
    if (cfg.adminToken === '' || !headerEquals(presented, `Bearer ${cfg.adminToken}`)) return goError(res, 404, 'not found');
    try {
      await store.reload(db);
    } catch (err) {
      metrics.inc('revocationReloadErrors');
      log('error', 'forced revocation snapshot reload failed', { error: errorMessage(err) });
      return writeReadyFailure(res, 'revocation_reload_failed');
    }
    metrics.inc('revocationReloads');
    goJson(res, 200, goMap({ ok: true, revocations: store.size }));
  };

  const proxy = createProxy({ stsUrl: cfg.stsUrl, exchangeKey: cfg.exchangeKey, store, metrics, log });
  return new GoMux()
    .handle('/health', (_req, res) => {
      res.writeHead(200);
      res.end();
    })
    .handle('/ready', ready)
    .handle('/metrics', renderMetrics)
    .handle('POST /internal/revocations/reload', reload)
    .handle('/', (req, res) => proxy(req, res, res.getHeader('X-Request-Id') as string));
}

export async function runGateway(): Promise<number> {
  const log = createLog('gateway');
  let cfg: GatewayConfig;
  try {
    cfg = loadGatewayConfig();
  } catch (err) {
    if (err instanceof GoPanic) exitLikeGoPanic(err);
    log('error', 'init failed', { error: errorMessage(err) });
    return 1;
  }
  const redis = connectRedis(cfg.redisUrl);
  const db = goPool(cfg.databaseUrl, DB_MAX_CONNS);
  const store = new RevocationStore();
  const metrics = new GatewayMetrics();
  metrics.set('auditQueueCap', AUDIT_QUEUE_CAP);
  try {
    await store.reload(db);
  } catch (err) {
    log('error', 'init failed', { error: `revocation snapshot: ${errorMessage(err)}` });
    redis.disconnect();
    await db.end().catch(() => undefined);
    return 1;
  }
  let stopped = false;
  let consumer: { stop(): void };
  try {
    consumer = await startRevocationConsumer(
      { conn: redis.duplicate(), redis, db, store, metrics, streamsKey: cfg.streamsKey, published: cfg.published, host: replicaHostname(), log },
      () => stopped,
    );
  } catch (err) {
    log('error', 'run failed', { error: errorMessage(err) });
    redis.disconnect();
    await db.end().catch(() => undefined);
    return 1;
  }
  const mux = gatewayMux({ cfg, db, redis, store, metrics, log });
  // requestIDMiddleware: every answer carries X-Request-Id.
  const withRequestId = new GoMux().handle('/', async (req, res) => {
    res.setHeader('X-Request-Id', requestIdFor(req));
    await mux.serve(req, res);
  });
  const server = await listenGo(withRequestId, cfg.port, (err) => log('error', 'recovered panic in http handler', { error: errorMessage(err) }));
  log('info', 'gateway listening', { port: String(server.port), tls: false });
  await untilSignal();
  log('info', 'gateway shutting down');
  stopped = true;
  await server.close();
  consumer.stop();
  redis.disconnect();
  await db.end().catch(() => undefined);
  return 0;
}
