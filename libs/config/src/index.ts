export { ConfigError, type ConfigIssue } from './errors.js';
export { loadConfig } from './load.js';
export { resolveFileEnv, type Env, type ResolvedEnv } from './file-env.js';
export { parseDurationMs } from './duration.js';
export {
  DEFAULT_DATABASE_URL,
  DEFAULT_REDIS_URL,
  bool,
  csv,
  databaseUrl,
  optionalDatabaseUrl,
  durationMs,
  hostPortList,
  port,
  positiveInt,
  redisUrl,
} from './fields.js';
export { describeConfig, type VariableDoc } from './describe.js';
export { LOG_LEVELS, caracalDirFields, commonServiceSchema, type CommonServiceConfig, type LogLevel } from './common.js';
