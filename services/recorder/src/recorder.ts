import type { ServiceRuntime } from '@caracal-rotation/runtime';
import type pg from 'pg';
import type { RecorderConfig } from './config.js';
import { every } from './periodic.js';
import { projectionSubscriptions } from './project-event.js';
import { refreshProjectionMetrics } from './projection-metrics.js';
import { startRetirementTimer } from './retirement-timer.js';

export interface Recorder {
  /** Stops the timers, then the consumer (in-flight events finish). The pool is the caller's. */
  stop(): Promise<void>;
}

/**
 * The recorder: its consumer group on every rotation stream projecting into
 * Postgres, the durable retirement timer with the drain gate, and the
 * projection's gauges.
 */
export async function startRecorder(runtime: ServiceRuntime, config: RecorderConfig, pool: pg.Pool): Promise<Recorder> {
  const { redis, streams, publisher, logger, metrics } = runtime;
  const consumer = await runtime.startConsumer(projectionSubscriptions({ pool, redis, streams }));
  const retirement = startRetirementTimer({ pool, redis, streams, publisher, logger, batchSize: config.RETIREMENT_BATCH }, config.RETIREMENT_TICK_MS);
  const metricsFailed = (err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'projection metrics refresh failed');
  // Once now, so the gauges are not empty for a whole refresh interval after start.
  await refreshProjectionMetrics(pool, metrics).catch(metricsFailed);
  const gauges = every(config.METRICS_REFRESH_MS, () => refreshProjectionMetrics(pool, metrics), metricsFailed);
  return {
    async stop() {
      await Promise.all([retirement.stop(), gauges.stop()]);
      await consumer.stop();
    },
  };
}
