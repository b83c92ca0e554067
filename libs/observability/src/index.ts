export { createLogger, type LoggerOptions } from './logger.js';
export { CARACAL_SECRET_KEYS, GENERIC_SECRET_KEYS, REDACT_CENSOR, SECRET_CONTAINERS, redactPaths } from './redact-paths.js';
export { serializeError, type SerializedError } from './err-serializer.js';
export { maskUrlCredentials } from './url.js';
export { STAGE_DURATION_BUCKETS, createMetrics, type EventOutcome, type Metrics } from './metrics.js';
export { startHttpServer, type HttpServerOptions, type RunningHttpServer } from './http/server.js';
export type { Readiness, RouteHandler } from './http/routes.js';
export {
  ShutdownCoordinator,
  type ShutdownHandler,
  type ShutdownOptions,
  type ShutdownResult,
  type SignalTarget,
} from './shutdown.js';
export { TimeoutError, withTimeout } from './timeout.js';
export type { Logger } from 'pino';
