import { FileKeyringSource, Publisher, StreamConsumer, createRedisClient, type ConsumerOptions, type KeyringSource, type RedisClient, type Subscription } from '@caracal-rotation/bus';
import type { CommonServiceConfig } from '@caracal-rotation/config';
import { rotationStreams, type RotationStreams } from '@caracal-rotation/contracts';
import { createLogger, createMetrics, maskUrlCredentials, ShutdownCoordinator, startHttpServer, type Logger, type Metrics, type RunningHttpServer } from '@caracal-rotation/observability';
import { resolveSecretsDir } from '@caracal-rotation/secrets';
import type { Readiness, RouteHandler } from '@caracal-rotation/observability';

/** Shutdown priorities: stop taking work first, close connections last. */
export const SHUTDOWN = { stopConsumers: 100, stopTimers: 90, closeHttp: 50, closeConnections: 10 } as const;

export interface ServiceRuntime {
  readonly service: string;
  readonly instance: string;
  readonly config: CommonServiceConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly redis: RedisClient;
  readonly keyring: KeyringSource;
  readonly publisher: Publisher;
  readonly streams: RotationStreams;
  readonly secretsDir: string;
  readonly shutdown: ShutdownCoordinator;
  /** Builds and starts this service's consumer group over its subscriptions. */
  startConsumer(subscriptions: readonly Subscription<unknown>[], overrides?: Partial<ConsumerOptions>): Promise<StreamConsumer>;
  /** Serves /health, /ready (Redis reachable plus the service's own checks) and /metrics. */
  serveHttp(readiness?: () => Promise<Readiness>, extraRoutes?: Record<string, RouteHandler>): Promise<RunningHttpServer>;
}

/**
 * The infrastructure every stage needs, built the same way everywhere:
 * logger, metrics, Redis, the bus keyring read from the secrets directory,
 * the publisher and a shutdown coordinator.
 */
export async function createServiceRuntime(service: string, config: CommonServiceConfig): Promise<ServiceRuntime> {
  const instance = config.INSTANCE_ID;
  const logger = createLogger({ service, instance, level: config.LOG_LEVEL });
  const metrics = createMetrics(service);
  const shutdown = new ShutdownCoordinator({ logger });
  const secretsDir = resolveSecretsDir({ ...process.env, CARACAL_SECRETS_DIR: config.CARACAL_SECRETS_DIR, CARACAL_HOME: config.CARACAL_HOME });

  const redis = createRedisClient({ url: config.REDIS_URL, clusterNodes: config.REDIS_CLUSTER_NODES }, { connectionName: `${service}/${instance}` });
  redis.on('error', (err: Error) => logger.warn({ err: err.message, redis: maskUrlCredentials(config.REDIS_URL) }, 'redis connection error'));
  shutdown.register('redis', SHUTDOWN.closeConnections, async () => {
    await redis.quit().catch(() => redis.disconnect());
  });

  const keyring = await FileKeyringSource.open({
    dir: secretsDir,
    onChange: (k) => logger.info({ kids: k.kids }, 'bus keyring loaded'),
    onError: (err) => logger.error({ err }, 'bus keyring reload failed; keeping the previous keyring'),
  });
  shutdown.register('keyring', SHUTDOWN.closeConnections, async () => keyring.close());

  const publisher = new Publisher(redis, keyring, `${service}/${instance}`);
  const streams = rotationStreams(config.STREAM_PREFIX);

  return {
    service,
    instance,
    config,
    logger,
    metrics,
    redis,
    keyring,
    publisher,
    streams,
    secretsDir,
    shutdown,
    async startConsumer(subscriptions, overrides = {}) {
      const consumer = new StreamConsumer({
        redis,
        group: service,
        consumer: instance,
        subscriptions,
        keyring,
        publisher,
        batchSize: config.CONSUMER_BATCH,
        blockMs: config.CONSUMER_BLOCK_MS,
        claimIdleMs: config.CLAIM_IDLE_MS,
        maxDeliveries: config.MAX_DELIVERIES,
        maxInFlight: config.MAX_IN_FLIGHT,
        logger,
        onOutcome: (stream, outcome, reason) => {
          metrics.eventsTotal.inc({ stream, outcome: outcome === 'deferred' ? 'retry' : outcome });
          if (outcome === 'dead_letter') metrics.deadLettersTotal.inc({ stream, reason: reason ?? 'unknown' });
          if (reason === 'invalid_signature' || reason === 'unknown_kid') metrics.signatureFailuresTotal.inc({ stream, reason });
        },
        ...overrides,
      });
      shutdown.register(`consumer:${service}`, SHUTDOWN.stopConsumers, () => consumer.stop());
      await consumer.start();
      logger.info({ group: service, streams: consumer.streams }, 'consuming');
      return consumer;
    },
    async serveHttp(readiness, extraRoutes) {
      const server = await startHttpServer({
        service,
        instance,
        host: config.HTTP_HOST,
        port: config.HTTP_PORT,
        registry: metrics.registry,
        logger,
        extraRoutes,
        readiness: async () => {
          try {
            await redis.ping();
          } catch (err) {
            return { ok: false, error: (err as Error).message, dependency: 'redis' };
          }
          return readiness ? readiness() : { ok: true };
        },
      });
      shutdown.register('http', SHUTDOWN.closeHttp, () => server.close());
      logger.info({ url: server.url }, 'http listening');
      return server;
    },
  };
}
