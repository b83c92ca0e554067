import { pino, type DestinationStream, type Logger } from 'pino';
import { serializeError } from './err-serializer.js';
import { REDACT_CENSOR, redactPaths } from './redact-paths.js';

export interface LoggerOptions {
  service: string;
  instance: string;
  /** A pino level name; `silent` turns logging off. */
  level: string;
  /** Where lines go; stdout when omitted. */
  destination?: DestinationStream;
}

/**
 * A JSON logger whose every line carries `service` and `instance`, an ISO
 * timestamp and the level's name, with secret-bearing fields redacted.
 */
export function createLogger({ service, instance, level, destination }: LoggerOptions): Logger {
  const options = {
    level,
    base: { service, instance },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: redactPaths(), censor: REDACT_CENSOR },
    serializers: { err: serializeError },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
