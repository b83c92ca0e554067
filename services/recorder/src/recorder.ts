import type { Catalog } from '@caracal-rotation/contracts';
import type { RouteHandler } from '@caracal-rotation/observability';
import { loadCatalog, type ServiceRuntime } from '@caracal-rotation/runtime';
import type pg from 'pg';
import type { RecorderConfig } from './config.js';
import { every } from './periodic.js';
import { startPolicyScheduler } from './policy-scheduler.js';
import { projectionSubscriptions } from './project-event.js';
import { refreshProjectionMetrics } from './projection-metrics.js';
import { ROTATION_OUTCOMES, createRecorderMetrics, materialLabel, type RecorderMetrics, type RotationOutcome } from './recorder-metrics.js';
import { startRetirementTimer } from './retirement-timer.js';
import { statusRoutes } from './status/routes.js';
import { refreshStreamMetrics } from './stream-metrics.js';

export interface Recorder {
  readonly catalog: Catalog;
  readonly metrics: RecorderMetrics;
  /** `GET /status` and `GET /status.json`, for `runtime.serveHttp(readiness, recorder.httpRoutes)`. */
  readonly httpRoutes: Record<string, RouteHandler>;
  /** Stops the timers, then the consumer (in-flight events finish). The pool is the caller's. */
  stop(): Promise<void>;
}

const isOutcome = (name: string): name is RotationOutcome => (ROTATION_OUTCOMES as readonly string[]).includes(name);

/**
 * The recorder: its consumer group on every rotation stream projecting into
 * Postgres, the durable retirement timer with the drain gate, the rotation
 * policy scheduler, the projection's and the bus's gauges, and the status
 * page's routes. The catalog is the operator's (CARACAL_CATALOG) unless one
 * is given.
 */
export async function startRecorder(runtime: ServiceRuntime, config: RecorderConfig, pool: pg.Pool, catalog?: Catalog): Promise<Recorder> {
  const { redis, streams, publisher, logger, metrics } = runtime;
  const policyCatalog = catalog ?? (await loadCatalog(config.CARACAL_CATALOG));
  const recorderMetrics = createRecorderMetrics(metrics, policyCatalog);

  const consumer = await runtime.startConsumer(
    projectionSubscriptions({
      pool,
      redis,
      streams,
      onRecorded: (name, event) => {
        if (!isOutcome(name)) return;
        const material = (event.data as { material?: unknown } | null)?.material;
        recorderMetrics.rotationsTotal.inc({ material: materialLabel(material), outcome: name });
      },
    }),
  );
  const retirement = startRetirementTimer({ pool, redis, streams, publisher, logger, batchSize: config.RETIREMENT_BATCH }, config.RETIREMENT_TICK_MS);
  const policy = startPolicyScheduler(
    {
      pool,
      redis,
      publisher,
      streams,
      catalog: policyCatalog,
      logger,
      batchSize: config.POLICY_BATCH,
      guardTtlMs: config.POLICY_GUARD_TTL,
      metrics: recorderMetrics,
    },
    config.POLICY_TICK_MS,
  );

  const metricsFailed = (err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'metrics refresh failed');
  const refresh = () => Promise.all([refreshProjectionMetrics(pool, metrics, recorderMetrics), refreshStreamMetrics(redis, streams, metrics)]);
  // Once now, so the gauges are not empty for a whole refresh interval after start.
  await refresh().catch(metricsFailed);
  const gauges = every(config.METRICS_REFRESH_MS, refresh, metricsFailed);

  return {
    catalog: policyCatalog,
    metrics: recorderMetrics,
    httpRoutes: statusRoutes({ pool, catalog: policyCatalog, logger, cacheMs: config.STATUS_CACHE_MS }),
    async stop() {
      await Promise.all([retirement.stop(), gauges.stop(), policy?.stop()]);
      await consumer.stop();
    },
  };
}
