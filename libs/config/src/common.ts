import { hostname } from 'node:os';
import { z } from 'zod';
import { durationMs, hostPortList, port, positiveInt, redisUrl } from './fields.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The variables every service shares. A service extends it with its own
 * (`commonServiceSchema.extend({ DATABASE_URL: databaseUrl() })` for the recorder).
 */
export const commonServiceSchema = z.object({
  REDIS_URL: redisUrl(),
  /**
   * Seed nodes of a Redis Cluster, `host:port,host:port,…`. When set, every
   * connection is a cluster client (REDIS_URL then gives only credentials and TLS).
   */
  REDIS_CLUSTER_NODES: hostPortList(),
  CARACAL_SECRETS_DIR: z.string().optional(),
  CARACAL_HOME: z.string().optional(),
  /** Path of an operator's catalog override file. */
  CARACAL_CATALOG: z.string().optional(),
  LOG_LEVEL: z
    .string()
    .transform((raw) => raw.trim().toLowerCase())
    .pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }))
    .default('info'),
  /** 0 asks for an ephemeral port. */
  HTTP_PORT: port(0),
  HTTP_HOST: z.string().default('127.0.0.1'),
  INSTANCE_ID: z.string().default(() => `${hostname()}-${process.pid}`),
  /** Prefix of every stream name; tests set it to isolate their streams. */
  STREAM_PREFIX: z.string().default('caracal.rotation'),
  CONSUMER_BATCH: positiveInt(64),
  CONSUMER_BLOCK_MS: durationMs(1_000),
  CLAIM_IDLE_MS: durationMs(30_000),
  MAX_DELIVERIES: positiveInt(5),
  MAX_IN_FLIGHT: positiveInt(256),
});

export type CommonServiceConfig = z.infer<typeof commonServiceSchema>;
