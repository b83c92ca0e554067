import {
  FileKeyringSource,
  OperatorRegistrySource,
  PlanStore,
  Publisher,
  Signers,
  StreamConsumer,
  createRedisClient,
  followCredentialFile,
  type ConsumerOptions,
  type KeyringSource,
  type RedisClient,
  type Subscription,
} from '@caracal-rotation/bus';
import type { CommonServiceConfig } from '@caracal-rotation/config';
import { rotationStreams, type RotationStreams } from '@caracal-rotation/contracts';
import { createLogger, createMetrics, maskUrlCredentials, ShutdownCoordinator, startHttpServer, type Logger, type Metrics, type RunningHttpServer } from '@caracal-rotation/observability';
import { resolveRotationDir, resolveSecretsDir } from '@caracal-rotation/secrets';
import type { Readiness, RouteHandler } from '@caracal-rotation/observability';
import { deadLetterEndsRotation } from './dead-letters.js';
import { reportKeyring } from './keyring-report.js';

/** Shutdown priorities: stop taking work first, close connections last. */
export const SHUTDOWN = { stopConsumers: 100, stopTimers: 90, closeHttp: 50, closeConnections: 10 } as const;

export const BUS_KEY_FILE = 'busKey';
export const CARACAL_STREAMS_KEY_FILE = 'streamsHmacKey';

export interface RuntimeOptions {
  /** Verify requests and intents: load the operator registry (planner, recorder). */
  operators?: boolean;
  /** Load Caracal's STREAMS_HMAC_KEY: to sign `completed` (verifier) or verify it (recorder). */
  caracalStreamsKey?: boolean;
  /** A dead-lettered input of this service ends its rotation with `failed` (every stage but the recorder). */
  failsRotationsOnDeadLetter?: boolean;
}

export interface ServiceRuntime {
  readonly service: string;
  readonly instance: string;
  readonly config: CommonServiceConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The orchestrator's bus: its streams and its own state. */
  readonly redis: RedisClient;
  /** Caracal's Redis: its streams, probes, the `completed` announcement (the bus's Redis unless CARACAL_REDIS_URL says otherwise). */
  readonly caracalRedis: RedisClient;
  readonly signers: Signers;
  readonly busKeyring: KeyringSource;
  readonly caracalKeyring: KeyringSource | undefined;
  readonly operators: OperatorRegistrySource | undefined;
  readonly publisher: Publisher;
  readonly plans: PlanStore;
  readonly streams: RotationStreams;
  readonly secretsDir: string;
  readonly rotationDir: string;
  readonly shutdown: ShutdownCoordinator;
  /** Builds and starts this service's consumer group over its subscriptions. */
  startConsumer(subscriptions: readonly Subscription<unknown>[], overrides?: Partial<ConsumerOptions>): Promise<StreamConsumer>;
  /** Serves /health, /ready (Redis reachable plus the service's own checks) and /metrics. */
  serveHttp(readiness?: () => Promise<Readiness>, extraRoutes?: Record<string, RouteHandler>): Promise<RunningHttpServer>;
}

/**
 * The infrastructure every stage needs, built the same way everywhere:
 * logger, metrics, Redis connections, the keys that sign and verify events,
 * the publisher, the plan store and a shutdown coordinator.
 */
export async function createServiceRuntime(service: string, config: CommonServiceConfig, options: RuntimeOptions = {}): Promise<ServiceRuntime> {
  const instance = config.INSTANCE_ID;
  const logger = createLogger({ service, instance, level: config.LOG_LEVEL });
  const metrics = createMetrics(service);
  const shutdown = new ShutdownCoordinator({ logger });
  const dirs = { ...process.env, CARACAL_SECRETS_DIR: config.CARACAL_SECRETS_DIR, CARACAL_HOME: config.CARACAL_HOME, CARACAL_ROTATION_DIR: config.CARACAL_ROTATION_DIR };
  const secretsDir = resolveSecretsDir(dirs);
  const rotationDir = resolveRotationDir(dirs);

  const connect = (url: string, name: string, clusterNodes: readonly string[]): RedisClient => {
    const client = createRedisClient({ url, clusterNodes }, { connectionName: `${service}/${instance}${name}` });
    client.on('error', (err: Error) => logger.warn({ err: err.message, redis: maskUrlCredentials(url) }, 'redis connection error'));
    shutdown.register(`redis${name}`, SHUTDOWN.closeConnections, async () => {
      await client.quit().catch(() => client.disconnect());
    });
    return client;
  };
  const redis = connect(config.REDIS_URL, '', config.REDIS_CLUSTER_NODES);
  // Caracal runs one standalone Redis (its compose file and chart have no cluster mode):
  // REDIS_CLUSTER_NODES describes the orchestrator's bus only.
  const caracalRedis = config.CARACAL_REDIS_URL ? connect(config.CARACAL_REDIS_URL, '/caracal', []) : redis;
  const caracalUrlFile = process.env.CARACAL_REDIS_URL_FILE;
  if (config.CARACAL_REDIS_URL && caracalUrlFile) followCredentialFile(caracalRedis, caracalUrlFile, (err) => logger.warn({ err: err.message }, 'redis credentials'));

  const keyringLogs = (what: string) => ({
    onChange: (k: { kids: string[] }) => logger.info({ kids: k.kids }, `${what} loaded`),
    onError: (err: Error) => logger.error({ err }, `${what} reload failed; keeping the previous one`),
  });
  const busKeyring = await FileKeyringSource.open({ dir: rotationDir, file: BUS_KEY_FILE, ...keyringLogs('bus keyring') });
  shutdown.register('bus keyring', SHUTDOWN.closeConnections, async () => busKeyring.close());
  const caracalKeyring = options.caracalStreamsKey
    ? await FileKeyringSource.open({ dir: secretsDir, file: CARACAL_STREAMS_KEY_FILE, previousFile: null, ...keyringLogs("Caracal's streams key") })
    : undefined;
  if (caracalKeyring) shutdown.register('caracal keyring', SHUTDOWN.closeConnections, async () => caracalKeyring.close());
  const operators = options.operators
    ? await OperatorRegistrySource.open({ dir: rotationDir, onError: (err) => logger.error({ err: err.message }, 'operator registry reload failed; keeping the previous one') })
    : undefined;
  if (operators) shutdown.register('operators', SHUTDOWN.closeConnections, async () => operators.close());
  const signers = new Signers({ bus: busKeyring, operators, caracal: caracalKeyring });

  const publisher = new Publisher(redis, busKeyring, `${service}/${instance}`);
  const streams = rotationStreams(config.STREAM_PREFIX);
  const plans = new PlanStore(redis, streams.prefix);
  // Every service says which bus keys it has loaded: rotating the bus key waits for all of them.
  const stopReporting = reportKeyring(redis, streams.prefix, `${service}/${instance}`, busKeyring);
  shutdown.register('keyring report', SHUTDOWN.stopTimers, async () => stopReporting());

  return {
    service,
    instance,
    config,
    logger,
    metrics,
    redis,
    caracalRedis,
    signers,
    busKeyring,
    caracalKeyring,
    operators,
    publisher,
    plans,
    streams,
    secretsDir,
    rotationDir,
    shutdown,
    async startConsumer(subscriptions, overrides = {}) {
      const consumer = new StreamConsumer({
        redis,
        group: service,
        consumer: instance,
        subscriptions,
        signers,
        publisher,
        batchSize: config.CONSUMER_BATCH,
        blockMs: config.CONSUMER_BLOCK_MS,
        claimIdleMs: config.CLAIM_IDLE_MS,
        maxDeliveries: config.MAX_DELIVERIES,
        retryForMs: config.RETRY_FOR_MS,
        maxInFlight: config.MAX_IN_FLIGHT,
        logger,
        onOutcome: (stream, outcome, reason) => {
          metrics.eventsTotal.inc({ stream, outcome: outcome === 'deferred' ? 'retry' : outcome });
          if (outcome === 'dead_letter') metrics.deadLettersTotal.inc({ stream, reason: reason ?? 'unknown' });
          if (reason === 'invalid_signature' || reason === 'unknown_kid' || reason === 'unauthorized_signer') metrics.signatureFailuresTotal.inc({ stream, reason });
        },
        ...(options.failsRotationsOnDeadLetter ? { onDeadLetter: deadLetterEndsRotation(service, streams) } : {}),
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
