import { commonServiceSchema, databaseUrl, durationMs, positiveInt } from '@caracal-rotation/config';

export const recorderConfigSchema = commonServiceSchema.extend({
  DATABASE_URL: databaseUrl(),
  /** How often rotations past their safety window are checked against the drain gate. */
  RETIREMENT_TICK_MS: durationMs(500),
  /** Due rotations one replica handles per tick. */
  RETIREMENT_BATCH: positiveInt(500),
  /** How often the in-progress and material-age gauges are read from the projection. */
  METRICS_REFRESH_MS: durationMs(5_000),
  PG_POOL_MAX: positiveInt(10),
  /**
   * How often the rotation policies (the catalog's `max_age_ms`) are checked
   * against the projection; 0 disables the scheduler on this replica.
   */
  POLICY_TICK_MS: durationMs(30_000),
  /** Policy requests one replica emits per tick at most (the rest wait for a later tick). */
  POLICY_BATCH: positiveInt(500),
  /**
   * How long the Redis guard `<prefix>:policy:<rotation id>` lives. It only has
   * to outlast the time until the projection records the scheduled request
   * (which then guards for good); after a crash between guard and publish the
   * request is emitted once this expires.
   */
  POLICY_GUARD_TTL: durationMs('7d'),
  /** The status page reuses a snapshot of the projection this long, however many viewers refresh. */
  STATUS_CACHE_MS: durationMs(1_000),
  // A Postgres outage must never dead-letter an event: the handler throws, the
  // entry stays pending and is retried with backoff (capped at CLAIM_IDLE_MS),
  // so 1000 deliveries outlast an outage of hours.
  MAX_DELIVERIES: positiveInt(1_000),
});

export type RecorderConfig = ReturnType<typeof recorderConfigSchema.parse>;
