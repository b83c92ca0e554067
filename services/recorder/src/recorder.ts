import type { SignedEvent } from '@caracal-rotation/bus';
import { EVENT_NAMES, type Catalog } from '@caracal-rotation/contracts';
import type { RouteHandler } from '@caracal-rotation/observability';
import type { ServiceRuntime } from '@caracal-rotation/runtime';
import type pg from 'pg';
import type { RecorderConfig } from './config.js';
import { every, type Periodic } from './periodic.js';
import { startPolicyScheduler } from './policy-scheduler.js';
import { refreshProjectionMetrics } from './projection-metrics.js';
import { createProjector, type Projector } from './projector.js';
import { createRecorderMetrics, type RecorderMetrics } from './recorder-metrics.js';
import { startRetirementTimer } from './retirement-timer.js';
import { statusRoutes } from './status/routes.js';
import { StreamHomes } from './stream-homes.js';
import { refreshStreamMetrics } from './stream-metrics.js';
import { projectionSubscriptions } from './subscriptions.js';
import { startStreamTrimmer } from './trim-streams.js';

export interface Recorder {
  readonly metrics: RecorderMetrics;
  readonly projector: Projector;
  /** `GET /status` and `GET /status.json`, for `runtime.serveHttp(readiness, recorder.httpRoutes)`. */
  readonly httpRoutes: Record<string, RouteHandler>;
  /** Stops the timers, then the consumer (in-flight events finish). The pool is the caller's. */
  stop(): Promise<void>;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The recorder: its consumer group on every rotation stream projecting into
 * Postgres, the durable retirement timer with the drain gate, the trimming
 * of the rotation streams, the rotation policies, the gauges, and the status
 * page's routes. The runtime must load the operator registry and Caracal's
 * streams key (it verifies requests, intents and `completed`).
 */
export async function startRecorder(runtime: ServiceRuntime, config: RecorderConfig, pool: pg.Pool, catalog: Catalog): Promise<Recorder> {
  const { redis, streams, publisher, logger, metrics, plans } = runtime;
  const recorderMetrics = createRecorderMetrics(metrics, catalog);
  const homes = new StreamHomes(redis, runtime.caracalRedis, streams);
  const projector = createProjector({ pool, plans, homes, logger, metrics: recorderMetrics });

  // Every read is projected as one batch: one transaction, set-based statements.
  const names = new Map(EVENT_NAMES.map((name) => [streams[name], name] as const));
  const handleBatch = async (events: readonly SignedEvent<unknown>[]) => {
    await projector.project(events.map((event) => ({ name: names.get(event.stream)!, event })));
  };
  // `completed` is announced on Caracal's Redis (the verifier's announcer.ts), not on the bus.
  const subscriptions = projectionSubscriptions(streams, projector);
  const onCaracal = runtime.caracalRedis !== redis;
  const consumer = await runtime.startConsumer(onCaracal ? subscriptions.filter((s) => s.stream !== streams.completed) : subscriptions, { handleBatch });
  const announcements = onCaracal ? await runtime.startConsumer(subscriptions.filter((s) => s.stream === streams.completed), { redis: runtime.caracalRedis, handleBatch }) : undefined;
  const timers: Periodic[] = [
    startRetirementTimer(
      {
        pool,
        homes,
        publisher,
        streams,
        logger,
        batchSize: config.RETIREMENT_BATCH,
        abandonAfterMs: config.DRAIN_ABANDON_AFTER_MS,
        republishAfterMs: config.RETIRING_REPUBLISH_MS,
        metrics: recorderMetrics,
      },
      config.RETIREMENT_TICK_MS,
    ),
  ];
  const trimmer = startStreamTrimmer({ redis, streams, logger, metrics: recorderMetrics }, config.TRIM_TICK_MS);
  if (trimmer) timers.push(trimmer);
  const policy = startPolicyScheduler(
    { pool, redis, publisher, streams, catalog, logger, batchSize: config.POLICY_BATCH, guardTtlMs: config.POLICY_GUARD_TTL, metrics: recorderMetrics },
    config.POLICY_TICK_MS,
  );
  if (policy) timers.push(policy);

  const refresh = () => Promise.all([refreshProjectionMetrics(pool, metrics, recorderMetrics), refreshStreamMetrics(redis, streams, metrics, recorderMetrics)]);
  const metricsFailed = (err: unknown) => logger.warn({ err: errorText(err) }, 'metrics refresh failed');
  // Once now, so the gauges are not empty for a whole refresh interval after start.
  await refresh().catch(metricsFailed);
  timers.push(every(config.METRICS_REFRESH_MS, refresh, metricsFailed));

  return {
    metrics: recorderMetrics,
    projector,
    httpRoutes: statusRoutes({ pool, catalog, logger, cacheMs: config.STATUS_CACHE_MS }),
    async stop() {
      await Promise.all(timers.map((t) => t.stop()));
      await Promise.all([consumer.stop(), announcements?.stop()]);
    },
  };
}
