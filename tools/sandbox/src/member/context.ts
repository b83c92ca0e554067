import type pg from 'pg';
import type { CaracalStreams } from '@caracal-rotation/contracts';
import type { MemberConfig } from './config.js';
import type { Route } from './http.js';
import type { Log } from './log.js';
import type { MemberRedis } from './redis.js';
import type { Material } from './material.js';
import type { CounterName, Stats } from './stats.js';
import type { ConsumerSpec } from './stream-consumer.js';

/** What a member's role gets to work with. */
export interface MemberContext {
  config: MemberConfig;
  material: Material;
  /** Lazily connected: a role that never sends a command never connects. */
  redis: MemberRedis;
  /** The sealed-secrets database, when DATABASE_URL was given (KEK holders only). */
  db: pg.Pool | undefined;
  streams: CaracalStreams;
  stats: Stats;
  log: Log;
}

/** What makes one member the API, the STS, …: its endpoints and stream consumers. */
export interface MemberRole {
  routes: Route[];
  consumers: ConsumerSpec[];
  /** Whether /ready depends on Redis (the web console does not use it). */
  usesRedis: boolean;
}

export interface RoleDefinition {
  counters: readonly CounterName[];
  create(ctx: MemberContext): MemberRole;
}
