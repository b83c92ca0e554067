import { commonServiceSchema, databaseUrl, durationMs, positiveInt } from '@caracal-rotation/config';

export const recorderConfigSchema = commonServiceSchema.extend({
  DATABASE_URL: databaseUrl().describe('The projection database (created if missing, migrated at start).'),
  RETIREMENT_TICK_MS: durationMs(500).describe('How often rotations past their rollback window are checked against the drain gate.'),
  RETIREMENT_BATCH: positiveInt(500).describe('Due rotations one pass handles at most.'),
  RETIRING_REPUBLISH_MS: durationMs('5m').describe('A `retiring` published this long ago whose rotation still waits is published again (same event id).'),
  DRAIN_ABANDON_AFTER_MS: durationMs('10m').describe(
    "A drain group whose consumers have all been idle this long (or that has none) no longer holds retirement (a gateway replica's per-host group after its pod was replaced); it is recorded as abandoned, with its pending count.",
  ),
  TRIM_TICK_MS: durationMs('1m').describe('How often the rotation streams are trimmed of entries every group has acknowledged; 0 disables trimming on this replica.'),
  METRICS_REFRESH_MS: durationMs(5_000).describe('How often the gauges are read from the projection and the streams.'),
  PG_POOL_MAX: positiveInt(10).describe('Connections to the projection database at most.'),
  POLICY_TICK_MS: durationMs(30_000).describe("How often the rotation policies (the catalog's `max_age_ms`) are checked against the projection; 0 disables the scheduler on this replica."),
  POLICY_BATCH: positiveInt(500).describe('Policy requests one replica emits per tick at most (the rest wait for a later tick).'),
  POLICY_GUARD_TTL: durationMs('7d').describe(
    'How long the Redis guard of a scheduled request lives: it only has to outlast the time until the projection records the request (which then guards for good); after a crash between guard and publish the request is emitted once it expires.',
  ),
  STATUS_CACHE_MS: durationMs(1_000).describe('The status page reuses a snapshot of the projection this long, however many viewers refresh.'),
  // A Postgres outage must never dead-letter an event: the handler throws, the
  // entry stays pending and is retried with backoff (capped at CLAIM_IDLE_MS),
  // so 1000 deliveries outlast an outage of hours.
  MAX_DELIVERIES: positiveInt(1_000).describe('Deliveries before an event the projection cannot take is dead-lettered; high, so a Postgres outage of hours never loses one.'),
});

export type RecorderConfig = ReturnType<typeof recorderConfigSchema.parse>;
