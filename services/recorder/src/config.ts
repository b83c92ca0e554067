import { commonServiceSchema, databaseUrl, durationMs, positiveInt } from '@caracal-rotation/config';

export const recorderConfigSchema = commonServiceSchema.extend({
  DATABASE_URL: databaseUrl(),
  /** How often rotations past their safety window are checked against the drain gate. */
  RETIREMENT_TICK_MS: durationMs(500),
  /** Due rotations one replica handles per tick. */
  RETIREMENT_BATCH: positiveInt(50),
  /** How often the in-progress and material-age gauges are read from the projection. */
  METRICS_REFRESH_MS: durationMs(5_000),
  PG_POOL_MAX: positiveInt(10),
  // A Postgres outage must never dead-letter an event: the handler throws, the
  // entry stays pending and is retried with backoff (capped at CLAIM_IDLE_MS),
  // so 1000 deliveries outlast an outage of hours.
  MAX_DELIVERIES: positiveInt(1_000),
});

export type RecorderConfig = ReturnType<typeof recorderConfigSchema.parse>;
